"""Scan engines: ``local`` (worker processes on this machine) and ``ray`` (Ray Data), one interface.

:func:`make_engine` is the only place that knows them by name; the CLI's ``--engine`` choices come from
:data:`ENGINES`. Ray is imported only when the ``ray`` engine runs.
"""

from __future__ import annotations

from auditor.errors import ScanError
from auditor.scan.engines.base import Engine, Reading, RunOptions, Source

ENGINES: tuple[str, ...] = ("local", "ray")


def make_engine(name: str, *, workers: int | None = None, ray_address: str | None = None) -> Engine:
    """The engine called ``name``; ``ray_address`` joins a running Ray cluster (ray engine only)."""
    if name == "local":
        if ray_address is not None:
            raise ScanError("--ray-address is for --engine ray; the local engine runs on this machine")
        from auditor.scan.engines.local import LocalEngine

        return LocalEngine(workers)
    if name == "ray":
        try:
            from auditor.scan.engines.ray_data import RayEngine
        except ImportError:
            raise ScanError("--engine ray needs Ray Data, which is not installed: pip install 'auditor[ray]' "
                            "(or 'ray[data]>=2.60')") from None
        return RayEngine(workers, address=ray_address)
    raise ScanError(f"unknown engine {name!r} (choose one of: {', '.join(ENGINES)})")


__all__ = ["ENGINES", "Engine", "Reading", "RunOptions", "Source", "make_engine"]
