"""auditor: a compliance auditing and policy engine for fine-tuning language models on personal data.

The package is a library first; :mod:`auditor.cli` is a thin click layer over it. The public API::

    import auditor

    result = auditor.scan("plan.yaml", output="scan.json")          # -> ScanResult
    gate = auditor.check("plan.yaml", "scan.json")                    # -> GateResult (does not raise)
    evidence = auditor.train("plan.yaml", scan="scan.json", out="out")  # -> TrainingEvidence, or GateFailed
    outcome = auditor.audit("plan.yaml", out="audit-out")             # scan → gate → train → signed report
    files = auditor.report("audit-out", key="auditor.key")            # re-render and re-sign
    auditor.verify("audit-out/report.intoto.jsonl", key="signer.pub")  # VerificationFailed unless it holds

Every error is an :class:`AuditorError` (``GateFailed``, ``InputError``, ...): a one-line message and the
exit code the CLI would use. ``auditor.integrations.transformers`` holds the Hugging Face Trainer / TRL
integration. Heavy libraries (torch, transformers, opacus, presidio, spaCy) are imported only inside the
functions that need them, so ``import auditor`` and the gate stay fast enough to run on every change.

``scan``, ``train`` and ``report`` are also the names of subpackages (``auditor.scan.api`` and so on). The
package keeps the public function under each name, and the function forwards attribute look-ups to its
subpackage, so ``auditor.train(...)`` calls the API while ``import auditor.train.api`` works as before.
"""

from __future__ import annotations

import functools
import importlib
import sys
import types
from collections.abc import Callable
from typing import Any, Generic, ParamSpec, TypeVar

from auditor import api as _api
from auditor.errors import (
    AuditorError,
    GateFailed,
    InputError,
    InternalError,
    PlanError,
    PolicyLoadError,
    ScanError,
    TrainingInputError,
    VerificationFailed,
)

__version__ = "0.1.0"

_P = ParamSpec("_P")
_R = TypeVar("_R")


class _Entry(Generic[_P, _R]):
    """A public function that shares its name with a subpackage: calling it runs the function; any other
    attribute is the subpackage's (so ``auditor.train.api`` and ``mock.patch("auditor.train.api.x")``
    resolve as they would without the function)."""

    def __init__(self, function: Callable[_P, _R], package: str) -> None:
        self._function = function
        self._package = package
        functools.update_wrapper(self, function)

    def __call__(self, *args: _P.args, **kwargs: _P.kwargs) -> _R:
        return self._function(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        package = importlib.import_module(self.__dict__["_package"])
        if hasattr(package, name):
            return getattr(package, name)
        try:  # a submodule not imported yet (``auditor.report.evidence``)
            return importlib.import_module(f"{package.__name__}.{name}")
        except ModuleNotFoundError:
            raise AttributeError(f"module {package.__name__!r} has no attribute {name!r}") from None

    def __repr__(self) -> str:
        return f"<auditor.{self._function.__name__} (function; subpackage {self._package})>"


scan = _Entry(_api.scan, "auditor.scan")
check = _api.check
train = _Entry(_api.train, "auditor.train")
audit = _api.audit
report = _Entry(_api.report, "auditor.report")
verify = _api.verify

_ENTRIES = frozenset({"scan", "train", "report"})


class _Package(types.ModuleType):
    """Importing ``auditor.scan`` (or ``train``, ``report``) sets that name on this package; the public
    function stays there instead, and the subpackage is reached through it or ``sys.modules``."""

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _ENTRIES and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package

__all__ = [
    "AuditorError",
    "GateFailed",
    "InputError",
    "InternalError",
    "PlanError",
    "PolicyLoadError",
    "ScanError",
    "TrainingInputError",
    "VerificationFailed",
    "__version__",
    "audit",
    "check",
    "report",
    "scan",
    "train",
    "verify",
]
