"""Option decorators shared by the commands that run the gate (check, train, audit)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])

SEVERITY_CHOICES = ("info", "low", "medium", "high", "critical", "none")


def gate_options(func: F) -> F:
    """``--policy``, ``--waivers``, ``--fail-on``: the same meaning in every command that gates."""
    func = click.option("--fail-on", type=click.Choice(SEVERITY_CHOICES), default="high", show_default=True,
                        help="Lowest severity of an unwaived failure that fails the gate (exit 1).")(func)
    func = click.option("--waivers", type=click.Path(path_type=str), default=None,
                        help="YAML file of waivers (rule, reason, approver, expires).")(func)
    func = click.option("--policy", "policies", multiple=True, metavar="ID|PATH",
                        help="Bundled policy id, policy file or directory; repeatable. Default: all bundled. "
                             "'bundled' = all bundled; a later file with the same id replaces the earlier.")(func)
    return func
