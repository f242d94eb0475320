"""`coso forms publish`: form definition files read and checked, all of them refused if one is
not a definition, then published in the order given.
"""

from __future__ import annotations

from pathlib import Path

import click

from server.catalog import Catalog
from server.cli_db import DB_OPTION, open_store
from server.errors import bilingual_errors
from server.form_source import DefinitionError, read_file, read_source
from server.forms import parse_definition


@click.group()
def forms() -> None:
    """Biểu mẫu / Form definitions."""


@forms.command("publish")
@click.argument(
    "files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@DB_OPTION
def forms_publish(files: tuple[Path, ...], db: str) -> None:
    """Xuất bản biểu mẫu / Publish form definitions (YAML or JSON) as new versions."""
    with open_store(db) as store:
        publish(Catalog(store), list(files))


def publish(catalog: Catalog, files: list[Path]) -> None:
    """Publish `files` in the order given, one line each (file, form, version). Every file is
    read and checked as a definition first: one that is not UTF-8, YAML or JSON, or not a
    definition, publishes nothing. A change between versions that is refused (type changed,
    rename collision) stops at that file, after saying what was published before it."""
    parsed = []
    for path in files:
        try:
            parsed.append((path, parse_definition(read_source(read_file(path), path.name))))
        except UnicodeDecodeError as exc:
            raise click.ClickException(
                f"{path}: not UTF-8 text (byte {exc.start}); nothing published"
                " / không phải văn bản UTF-8, chưa xuất bản gì"
            ) from exc
        except DefinitionError as exc:
            _definition_errors(path, exc)
            raise click.ClickException(
                f"{path}: not a form definition; nothing published"
                " / không phải định nghĩa biểu mẫu, chưa xuất bản gì"
            ) from exc
    for path, form in parsed:
        try:
            result, created = catalog.publish(form, None, "cli")
        except DefinitionError as exc:
            _definition_errors(path, exc)
            raise click.ClickException(f"{path}: not published / chưa xuất bản") from exc
        state = "published / đã xuất bản" if created else "unchanged / không đổi"
        click.echo(
            f"{path.name}: {result.form_id} v{result.version} {state}  sha256 {result.sha256[:12]}"
        )


def _definition_errors(path: Path, exc: DefinitionError) -> None:
    for e in bilingual_errors(exc.errors) or []:
        click.echo(f"{path}: {e.path}: {e.message}" if e.path else f"{path}: {e.message}", err=True)
