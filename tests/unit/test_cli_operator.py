"""What an operator reads: every option of every command described in both languages (and
the environment variable it reads, if any), and a malformed --area refused in both."""

from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from server.app import ROOT
from server.cli import main
from tests.support import run_cli as run


def commands(group: click.Group, path: tuple[str, ...] = ()) -> Iterator[tuple[str, click.Command]]:
    for name, command in group.commands.items():
        yield " ".join((*path, name)), command
        if isinstance(command, click.Group):
            yield from commands(command, (*path, name))


@pytest.mark.parametrize(("name", "command"), list(commands(main)), ids=lambda v: str(v))
def test_every_option_is_described_in_both_languages(name: str, command: click.Command) -> None:
    for param in command.params:
        if isinstance(param, click.Option):
            assert param.help and " / " in param.help, f"coso {name} {param.opts[0]}"
            if param.envvar:
                assert param.show_envvar, f"coso {name} {param.opts[0]}: ${param.envvar}"


@pytest.fixture
def live(live: Path) -> Path:
    """The shared database with the first form published too."""
    db = live
    schema = ROOT / "schemas" / "hoa_giai.v1.yaml"
    assert run("forms", "publish", schema, "--db", db).exit_code == 0
    return db


@pytest.mark.parametrize(
    "command",
    [["export", "hoa_giai"], ["users", "add", "lan", "--role", "officer"]],
    ids=["export", "users-add"],
)
def test_a_malformed_area_is_refused_in_both_languages(live: Path, command: list[str]) -> None:
    result = run(*command, "--area", "01..2", "--db", live)
    assert result.exit_code == 2
    assert "empty segment" in result.output
    assert "mã địa bàn không hợp lệ" in result.output


def test_export_of_an_area_outside_the_registry_says_so(live: Path) -> None:
    """A mistyped code (01.0007 for 01.00070) exports nothing: the operator is told why."""
    result = CliRunner().invoke(
        main, ["export", "hoa_giai", "--area", "01.0007", "--db", str(live)]
    )
    assert result.exit_code == 0
    assert "01.0007" in result.stderr
    assert "is not an official area code" in result.stderr
    assert result.stdout.count("\n") == 1  # the header
