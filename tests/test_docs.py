"""The README stays true: every CLI command and every API route is documented there, and the
quick start has exactly the two commands."""

import re
from pathlib import Path

import click

from server.app import Settings, create_app
from server.cli import main

README = (Path(__file__).parent.parent / "README.md").read_text("utf-8")


def _commands(group: click.Group, prefix: str = "coso") -> list[str]:
    out = []
    for name, cmd in group.commands.items():
        if isinstance(cmd, click.Group):
            out += _commands(cmd, f"{prefix} {name}")
        else:
            out.append(f"{prefix} {name}")
    return out


def test_every_cli_command_is_in_the_readme() -> None:
    missing = [c for c in _commands(main) if f"`{c}" not in README]
    assert not missing, f"undocumented commands: {missing}"


def test_every_route_is_in_the_readme() -> None:
    app = create_app(Settings(db=":memory:"))
    missing = []
    for route in app.routes:
        path = re.sub(r"\{(\w+):\w+\}", r"{\1}", route.path)
        if path.startswith("/schema") or path.startswith("/app"):
            continue
        for method in sorted(getattr(route, "methods", set()) - {"HEAD", "OPTIONS"}):
            if f"`{method} {path}`" not in README:
                missing.append(f"{method} {path}")
    assert not missing, f"undocumented routes: {missing}"


def test_quick_start_has_the_two_commands() -> None:
    section = README.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    block = section.split("```sh", 1)[1].split("```", 1)[0]
    commands = [line for line in block.splitlines() if line.strip() and not line.startswith("#")]
    assert len(commands) == 2
    assert "coso serve" in commands[0]
    assert "pytest" in commands[1]
    ci = (Path(__file__).parent.parent / ".ci" / "run").read_text("utf-8")
    assert commands[1] in ci, ".ci/run must run the README's test command"


def test_every_error_code_is_in_the_readme() -> None:
    """A client branches on `code`: every code coso answers with is explained there."""
    from server.errors import DETAILS_VI, FIELD_ERRORS_VI

    section = README.split("### Error codes", 1)[1].split("\n### ", 1)[0]
    extra = {"pattern_timeout", "slow", "unknown_previous_name"}  # messages already bilingual
    missing = sorted(c for c in {*DETAILS_VI, *FIELD_ERRORS_VI, *extra} if f"`{c}`" not in section)
    assert not missing, f"undocumented error codes: {missing}"


def test_the_body_timeout_in_the_readme_is_the_servers() -> None:
    from server.api.body import BODY_SECONDS

    assert f"| `timeout` | 408 | the body took over {BODY_SECONDS} s to arrive |" in README


def test_the_readmes_example_definition_publishes_with_every_key_there_is() -> None:
    """The README's definition "in full" is one an admin can copy: it publishes as it stands,
    and it names every key a form and a field may have."""
    from server.catalog import Catalog
    from server.form_source import read_source
    from server.forms import Field, FormDef, parse_definition
    from server.store import Store

    section = README.split("A definition, in full", 1)[1]
    source = section.split("```yaml", 1)[1].split("```", 1)[0]
    form = parse_definition(read_source(source))
    store = Store(":memory:")
    try:
        result, created = Catalog(store).publish(form, None, "cli")
    finally:
        store.close()
    assert created and result.version == 1
    keys = set(re.findall(r"^\s*(?:- )?(\w+):", source, re.M))
    assert set(FormDef.__struct_fields__) <= keys
    assert set(Field.__struct_fields__) <= keys
