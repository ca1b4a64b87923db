"""``auditor audit``: placeholder until the report issue lands."""

from __future__ import annotations

import click

from auditor.errors import InternalError


@click.command("audit")
def audit() -> None:
    """Not built yet."""
    raise InternalError("'auditor audit' is not built yet")
