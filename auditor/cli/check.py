"""``auditor check``: placeholder until its issue lands; replaced wholesale by its owner."""

from __future__ import annotations

import click

from auditor.errors import InternalError


@click.command("check")
def check() -> None:
    """Not built yet."""
    raise InternalError("'auditor check' is not built yet")
