"""The ``auditor`` command line: parse arguments, call the library, map errors to exit codes.

Exit codes: 0 compliant / success; 1 findings at or above ``--fail-on`` (or a verification failure);
2 bad input or usage; 3 internal error. No traceback reaches the user unless ``--debug`` is given.
Each sub-command lives in its own small module and imports heavy libraries only inside its body.
"""

from __future__ import annotations

import sys
from typing import Any

import click

from auditor import __version__
from auditor.errors import AuditorError


class AuditorGroup(click.Group):
    """Catches :class:`AuditorError` once for every command and turns it into one line and an exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except AuditorError as exc:
            click.echo(f"auditor: {exc.message}", err=True)
            ctx.exit(exc.exit_code)
        except KeyboardInterrupt:
            click.echo("auditor: interrupted", err=True)
            ctx.exit(130)
        except Exception as exc:
            if ctx.obj and ctx.obj.get("debug"):
                raise
            click.echo(f"auditor: internal error: {type(exc).__name__} (run with --debug for the traceback)",
                       err=True)
            ctx.exit(3)


@click.group(cls=AuditorGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="auditor")
@click.option("--debug", is_flag=True, help="Show Python tracebacks for internal errors.")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """Audit a fine-tuning job on personal data against GDPR, CCPA, PIPL, HIPAA and the EU AI Act."""
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug


def _register() -> None:
    from auditor.cli import audit, check, policies, report, scan, train

    for command in (scan.scan, check.check, train.train, report.report, report.verify, report.keygen,
                    audit.audit, policies.policies):
        cli.add_command(command)


_register()


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point."""
    cli.main(args=argv if argv is not None else sys.argv[1:], prog_name="auditor")
