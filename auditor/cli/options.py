"""Option decorators shared by the commands that run the gate (check, train, audit) and format its result."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])


def output_width(ctx: click.Context) -> int:
    """The terminal's width (``COLUMNS`` too), 100 for a pipe or file; never narrower than 60 columns."""
    import shutil

    return max(60, ctx.terminal_width or shutil.get_terminal_size((100, 24)).columns)

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


def sarif_options(func: F) -> F:
    """What a SARIF log holds and where its locations point (``auditor check --format sarif``)."""
    func = click.option("--repo-root", type=click.Path(path_type=Path), default=None, metavar="DIR",
                        help="SARIF: locations are relative to DIR (default: the nearest folder above the plan "
                             "holding .git, i.e. the repository's top level).")(func)
    func = click.option("--category", default=None, metavar="NAME",
                        help="SARIF: automationDetails.id, so several plans per commit keep separate alerts "
                             "in code scanning (default: auditor/ and the plan's repository path).")(func)
    func = click.option("--sarif-waived", is_flag=True,
                        help="SARIF: include waived findings as level note with suppressions (left out by "
                             "default: code scanning does not honour suppressions and would open alerts).")(func)
    func = click.option("--sarif-all", is_flag=True,
                        help="SARIF: one result per evaluated rule, passed (kind pass), not applicable and "
                             "waived too; by default only failures, rule errors and rules that need a scan "
                             "where they block (kind open, level none: SARIF allows no higher level for a "
                             "result that is not a failure), since code scanning opens an alert for every "
                             "result whatever its kind.")(func)
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


#: ``auditor.scan.engines.ENGINES``, spelled out here so that ``--help`` imports no scan module (a test
#: keeps the two equal).
ENGINE_CHOICES = ("local", "ray")


def engine_options(func: F) -> F:
    """``--engine`` and ``--ray-address``: where a scan's (or a redaction's) detection runs."""
    func = click.option("--ray-address", default=None, metavar="ADDR",
                        help="With --engine ray: join the running Ray cluster at ADDR (host:port, or 'auto' for "
                             "the one this machine belongs to) instead of starting a local Ray instance.")(func)
    func = click.option("--engine", type=click.Choice(ENGINE_CHOICES), default="local", show_default=True,
                        help="local: worker processes on this machine. ray: a Ray Data pipeline (a local Ray "
                             "instance, or a cluster with --ray-address); the same results.")(func)
    return func
