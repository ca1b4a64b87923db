"""``auditor scan``: placeholder until its issue lands; replaced wholesale by its owner."""

from __future__ import annotations

import click

from auditor.errors import InternalError


@click.command("scan")
def scan() -> None:
    """Not built yet."""
    raise InternalError("'auditor scan' is not built yet")
