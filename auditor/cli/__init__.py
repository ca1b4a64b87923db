"""The ``auditor`` command line: parse arguments, call the library, map errors to exit codes.

Exit codes: 0 compliant / success; 1 findings at or above ``--fail-on`` (or a verification failure);
2 bad input or usage; 3 internal error. No traceback reaches the user unless ``--debug`` is given.
Each sub-command lives in its own small module and imports heavy libraries only inside its body; the
modules themselves are imported on first use, so ``auditor check`` does not pay for the other commands.
"""

from __future__ import annotations

import gc
import importlib
import os
import sys
from typing import Any

import click

from auditor import __version__
from auditor.errors import AuditorError

#: command name -> (module, attribute), in registration order. Imported when a command is resolved by name;
#: listing them (``--help``, completion, an unknown name's suggestions) imports them all.
_COMMANDS: dict[str, tuple[str, str]] = {
    "scan": ("auditor.cli.scan", "scan"),
    "redact": ("auditor.cli.redact", "redact"),
    "check": ("auditor.cli.check", "check"),
    "train": ("auditor.cli.train", "train"),
    "report": ("auditor.cli.report", "report"),
    "verify": ("auditor.cli.report", "verify"),
    "keygen": ("auditor.cli.report", "keygen"),
    "audit": ("auditor.cli.audit", "audit"),
    "policies": ("auditor.cli.policies", "policies"),
    "schema": ("auditor.cli.schema", "schema"),
}

#: Commands that read a few files, write at most one (atomically, closed before they return) and start no
#: thread or process. For these :func:`main` runs without the cyclic garbage collector and ends the process
#: without interpreter teardown: on a 2-core CI runner those two cost ~30 ms and ~120 ms of a ~600 ms gate,
#: for objects that all live until exit anyway.
_SHORT_LIVED = frozenset({"check", "policies", "verify", "keygen", "schema"})


class AuditorGroup(click.Group):
    """Catches :class:`AuditorError` once for every command and turns it into one line and an exit code.

    Sub-commands are registered lazily (see :data:`_COMMANDS`); once resolved they are ordinary entries in
    :attr:`commands`, so help, listing and "no such command" suggestions are what eager registration gives.
    """

    #: the sub-command this invocation resolved to (``None``: none yet, or ``--help`` / ``--version``)
    resolved: str | None = None

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

    def resolve_command(self, ctx: click.Context,
                        args: list[str]) -> tuple[str | None, click.Command | None, list[str]]:
        name, command, rest = super().resolve_command(ctx, args)
        self.resolved = name
        if name not in _SHORT_LIVED:
            gc.enable()  # scan, train, audit, report run for minutes and allocate cycles (torch, spaCy)
        return name, command, rest

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
                if isinstance(exc, EOFError):
                    # click's standalone mode takes an EOFError for Ctrl-D at a prompt and prints only
                    # "Aborted!" (exit 1): --debug would hide the very traceback it asks for
                    raise RuntimeError(f"unexpected EOFError: {exc}") from exc
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
    """Console-script and ``python -m auditor`` entry point: runs one command, then ends the process.

    A gate runs on every commit, so start-up and exit are part of its latency. Third-party pydantic plugins
    (found by scanning every installed distribution's entry points) are not loaded for auditor's own
    schemas unless ``PYDANTIC_DISABLE_PLUGINS`` is set otherwise, and the short-lived commands skip the
    garbage collector and teardown (see :data:`_SHORT_LIVED`). In-process callers use :data:`cli` (click's
    ``CliRunner`` or ``cli.main(..., standalone_mode=False)``), which does neither.
    """
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
    gc.disable()
    cli.resolved = None
    try:
        cli.main(args=argv if argv is not None else sys.argv[1:], prog_name="auditor")
    except SystemExit as exc:
        if cli.resolved is not None and cli.resolved not in _SHORT_LIVED:
            raise
        _end_process(exc.code)
    finally:
        gc.enable()


def _end_process(code: object) -> None:
    """``sys.exit(code)`` without interpreter teardown: flush the standard streams, then ``os._exit``."""
    status = code if isinstance(code, int) else (0 if code is None else 1)
    if not isinstance(code, int | None):
        print(code, file=sys.stderr)  # what SystemExit("message") prints
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe (`auditor check | head`): nothing more to say
            status = status or 1
    os._exit(status)
