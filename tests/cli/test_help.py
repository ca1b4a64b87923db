"""--help is read by newcomers at 80 columns: nothing in a command list is cut short with '...'."""

from __future__ import annotations

import click
import pytest
from click.testing import CliRunner

from auditor.cli import cli

GROUPS = [[], ["policies"]]


@pytest.mark.parametrize("group", GROUPS)
def test_command_lists_show_every_short_help_whole_at_80_columns(group: list[str]) -> None:
    result = CliRunner().invoke(cli, [*group, "--help"], terminal_width=80)
    assert result.exit_code == 0, result.output
    listing = result.output.split("Commands:", 1)[1]
    assert "..." not in listing, listing
    assert max(len(line) for line in result.output.splitlines()) <= 80
    ctx = click.Context(cli)
    node: click.Command = cli
    for name in group:
        assert isinstance(node, click.Group)
        node = node.get_command(ctx, name)  # type: ignore[assignment]
    assert isinstance(node, click.Group)
    for name in node.list_commands(ctx):
        command = node.get_command(ctx, name)
        assert command is not None and command.short_help, name
        # one line each: the short help fits beside the longest command name
        assert f"  {name.ljust(max(map(len, node.list_commands(ctx))))}  {command.short_help}\n" in listing, name


def test_every_subcommand_help_fits_80_columns() -> None:
    runner = CliRunner()
    commands = [[name] for name in cli.list_commands(click.Context(cli))] + [
        ["policies", name] for name in ("list", "show", "test")]
    for args in commands:
        result = runner.invoke(cli, [*args, "--help"], terminal_width=80)
        assert result.exit_code == 0, (args, result.output)
        assert max(len(line) for line in result.output.splitlines()) <= 80, (args, result.output)


def test_check_help_says_whether_needs_a_scan_fails_the_gate() -> None:
    text = " ".join(CliRunner().invoke(cli, ["check", "--help"], terminal_width=80).output.split())
    assert "a gate that has not seen the data does not pass it" in text and "--plan-only" in text
