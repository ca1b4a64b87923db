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


def signer_options(func: F) -> F:
    """``--signer-name``, ``--signer-role``, ``--signer-org``: the claimed identity a signature carries,
    overriding the key's own file field by field (``report`` and ``audit``)."""
    func = click.option("--signer-org", "signer_org", metavar="TEXT",
                        help="Signer's organisation, signed into the statement (claimed, not verified).")(func)
    func = click.option("--signer-role", "signer_role", metavar="TEXT",
                        help="Signer's role, e.g. Data Protection Officer (claimed, not verified).")(func)
    func = click.option("--signer-name", "signer_name", metavar="TEXT",
                        help="Signer's name, signed into the statement and shown beside the key fingerprint; "
                             "default: the key's .signer.json written by 'auditor keygen --name'.")(func)
    return func
