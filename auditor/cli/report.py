"""``auditor report``, ``verify`` and ``keygen``: placeholder until the report issue lands."""

from __future__ import annotations

import click

from auditor.errors import InternalError


@click.command("report")
def report() -> None:
    """Not built yet."""
    raise InternalError("'auditor report' is not built yet")


@click.command("verify")
def verify() -> None:
    """Not built yet."""
    raise InternalError("'auditor verify' is not built yet")


@click.command("keygen")
def keygen() -> None:
    """Not built yet."""
    raise InternalError("'auditor keygen' is not built yet")
