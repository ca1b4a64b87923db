"""``auditor policies``: placeholder."""

from __future__ import annotations

import click


@click.group("policies")
def policies() -> None:
    """List, show and test policy files."""
