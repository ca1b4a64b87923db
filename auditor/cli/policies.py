"""``auditor policies list | show ID | test [DIR]``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click


@click.group("policies", short_help="List, show and test policy files.")
def policies() -> None:
    """List, show and test policy files."""


@policies.command("list", short_help="List policies: version, rule count and source.")
@click.option("--policy", "refs", multiple=True, metavar="ID|PATH", help="Policies to list (default: bundled).")
def list_cmd(refs: tuple[str, ...]) -> None:
    """List policies with their version, rule count and source."""
    from rich.console import Console
    from rich.table import Table

    from auditor.policy.load import resolve_policies

    table = Table(header_style="bold")
    for column in ("ID", "Title", "Version", "Rules", "Privacy blocks", "Source"):
        table.add_column(column)
    for policy in resolve_policies(refs):
        table.add_row(policy.id, policy.spec.title, policy.spec.version, str(len(policy.rules)),
                      str(len(policy.privacy)), "bundled" if policy.bundled else str(policy.source))
    Console(highlight=False).print(table)


@policies.command("show", short_help="Show a policy's rules, conditions and DP requirements.")
@click.argument("ref", metavar="ID|PATH")
@click.option("--format", "fmt", type=click.Choice(["text", "markdown", "json"]), default="text",
              show_default=True, help="text wraps at the terminal's width; markdown for docs and reviews; json "
                                      "for programs.")
@click.pass_context
def show(ctx: click.Context, ref: str, fmt: str) -> None:
    """Show a policy's rules: ID, severity, citation, conditions, and its DP requirements.

    REF is a policy (id or file) or one bundled rule's ID (GDPR-9-SPECIAL-CATEGORY-BASIS), shown alone."""
    from auditor.cli.options import output_width
    from auditor.policy.load import resolve_policies
    from auditor.policy.show import RENDERERS

    policy = _one_rule(ref) or resolve_policies([ref])[0]
    click.echo(RENDERERS[fmt](policy, output_width(ctx)), nl=False)


def _one_rule(ref: str) -> Any:
    """The bundled policy holding rule (or DP block) ``ref``, cut down to it; ``None`` for anything else."""
    import dataclasses
    import re

    from auditor.policy.load import resolve_policies
    from auditor.policy.model import RULE_ID

    if not re.fullmatch(RULE_ID, ref):
        return None
    for policy in resolve_policies():
        rules = tuple(r for r in policy.rules if r.spec.id == ref)
        blocks = tuple(b for b in policy.privacy if b.spec.id == ref)
        if rules or blocks:
            spec = policy.spec.model_copy(update={"rules": [r.spec for r in rules],  # a copy: not re-validated
                                                  "privacy": [b.spec for b in blocks]})
            return dataclasses.replace(policy, spec=spec, rules=rules, privacy=blocks)
    return None


@policies.command("test", short_help="Run policy test cases; exit 1 on any mismatch.")
@click.argument("directory", required=False, type=click.Path(path_type=Path))
@click.option("--require-coverage/--no-require-coverage", default=None,
              help="Fail when a rule lacks a passing or a failing case (default: on for the bundled tests).")
@click.pass_context
def test(ctx: click.Context, directory: Path | None, require_coverage: bool | None) -> None:
    """Run policy test cases (default: the bundled ones); exit 1 on any mismatch."""
    from auditor.policy.testing import run_tests

    report = run_tests(directory)
    for result in report.failed:
        where = f"{result.file}:{result.line}" if result.line else str(result.file)
        click.echo(f"FAIL {where}: {result.case.rule}: {result.case.name}: {result.problem}")
    strict = require_coverage if require_coverage is not None else directory is None
    for line in report.uncovered:
        click.echo(f"{'FAIL' if strict else 'WARN'} coverage: {line}")
    passed = len(report.results) - len(report.failed)
    bad = len(report.failed) + (len(report.uncovered) if strict else 0)
    click.echo(f"{passed} passed, {len(report.failed)} failed"
               + (f", {len(report.uncovered)} rules without both a pass and a fail case" if report.uncovered else ""))
    ctx.exit(1 if bad else 0)
