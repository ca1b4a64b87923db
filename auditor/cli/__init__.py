"""The ``auditor`` command line: parse arguments, call the library, map errors to exit codes.

Exit codes: 0 compliant / success; 1 findings at or above ``--fail-on`` (or a verification failure);
2 bad input or usage; 3 internal error. No traceback reaches the user unless ``--debug`` is given.
Each sub-command lives in its own small module and imports heavy libraries only inside its body; the
modules themselves are imported on first use, so ``auditor check`` does not pay for the other commands.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

import click

from auditor import __version__
from auditor.errors import AuditorError

#: command name -> (module, attribute), in registration order. Imported when a command is resolved by name;
#: listing them (``--help``, completion, an unknown name's suggestions) imports them all.
_COMMANDS: dict[str, tuple[str, str]] = {
    "scan": ("auditor.cli.scan", "scan"),
    "check": ("auditor.cli.check", "check"),
    "train": ("auditor.cli.train", "train"),
    "report": ("auditor.cli.report", "report"),
    "verify": ("auditor.cli.report", "verify"),
    "keygen": ("auditor.cli.report", "keygen"),
    "audit": ("auditor.cli.audit", "audit"),
    "policies": ("auditor.cli.policies", "policies"),
}


class AuditorGroup(click.Group):
    """Catches :class:`AuditorError` once for every command and turns it into one line and an exit code.

    Sub-commands are registered lazily (see :data:`_COMMANDS`); once resolved they are ordinary entries in
    :attr:`commands`, so help, listing and "no such command" suggestions are what eager registration gives.
    """

    def _load(self, name: str) -> None:
        if name not in self.commands and name in _COMMANDS:
            module, attr = _COMMANDS[name]
            self.add_command(getattr(importlib.import_module(module), attr), name)

    def _load_all(self) -> None:
        for name in _COMMANDS:
            self._load(name)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in _COMMANDS:
            self._load(cmd_name)
        else:
            self._load_all()  # an unknown name: the error's "did you mean" looks at every command
        return super().get_command(ctx, cmd_name)

    def list_commands(self, ctx: click.Context) -> list[str]:
        self._load_all()
        return super().list_commands(ctx)

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


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point."""
    cli.main(args=argv if argv is not None else sys.argv[1:], prog_name="auditor")
