"""``auditor train``: placeholder until its issue lands; replaced wholesale by its owner."""

from __future__ import annotations

import click

from auditor.errors import InternalError


@click.command("train")
def train() -> None:
    """Not built yet."""
    raise InternalError("'auditor train' is not built yet")
