"""`coso forms publish`: form definition files read and checked, all of them refused if one is
not a definition, then published in the order given (numbered versions of a form by N).
"""

from __future__ import annotations

import re
from pathlib import Path

import click

from server.catalog import Catalog
from server.cli_db import DB_OPTION, open_store
from server.errors import bilingual_errors
from server.form_source import DefinitionError, not_utf8, read_file, read_source
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


def publish(catalog: Catalog, files: list[Path], *, quiet: bool = False) -> None:
    """Publish `files` in the order given, except that the files named `FORM.vN.yaml` of one
    form go in the order of N among their places (`_numbered_in_order`), one line each (file,
    form, version), and a line more when the version is not the file's N. Every
    file is read and checked as a definition first: one that is not UTF-8, YAML or JSON, or
    not a definition, publishes nothing. A change between versions that is refused (type
    changed, rename collision) stops at that file, after saying what was published before it.
    `quiet`: the refusals only (a trial run)."""
    say = (lambda *_, **__: None) if quiet else click.echo
    parsed = []
    for path in _numbered_in_order(files):
        try:
            parsed.append((path, parse_definition(read_source(read_file(path), path.name))))
        except UnicodeDecodeError as exc:
            raise click.ClickException(
                f"{path}: {not_utf8(exc).message}; nothing published / chưa xuất bản gì"
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
        say(f"{path.name}: {result.form_id} v{result.version} {state}  sha256 {result.sha256[:12]}")
        named = _file_version(path)
        fv = catalog.get(result.form_id)
        if not created and fv is not None and fv.latest != result.version != named:
            # bringing an earlier definition back as it was publishes nothing: say so
            say(
                f"{path.name}: lưu ý: giống phiên bản {result.version}, không phải bản mới nhất"
                f" ({fv.latest}); muốn dùng lại thì sửa một chi tiết rồi xuất bản"
                f" / note: identical to version {result.version}, not the latest"
                f" ({fv.latest}); to bring it back, change something in it and publish it",
                err=True,
            )
        if created and named and named != result.version:
            say(
                f"{path.name}: lưu ý: tệp ghi v{named} nhưng là phiên bản {result.version}"
                f" / note: the file says v{named} but became version {result.version}",
                err=True,
            )


def _numbered_in_order(files: list[Path]) -> list[Path]:
    """`files` in the order given, but the files named `FORM.vN.yaml` of one form in the order
    of N among the places they hold: `a.v10 local.yaml a.v2` is `a.v2 local.yaml a.v10` (an
    unnumbered file put first, ahead of them all, became v1 under the shipped ones)."""
    out = list(files)
    forms: dict[str, list[int]] = {}
    for i, path in enumerate(files):
        if _file_version(path):
            forms.setdefault(path.name.rsplit(".v", 1)[0], []).append(i)
    for places in forms.values():
        ordered = sorted((files[i] for i in places), key=_file_version)
        for i, path in zip(places, ordered, strict=True):
            out[i] = path
    return out


def _file_version(path: Path) -> int:
    """The N of a file named `FORM.vN.yaml` (or .yml, .json), else 0."""
    match = re.fullmatch(r".+\.v(\d+)\.(?:ya?ml|json)", path.name)
    return int(match.group(1)) if match else 0


def _definition_errors(path: Path, exc: DefinitionError) -> None:
    for e in bilingual_errors(exc.errors) or []:
        click.echo(f"{path}: {e.path}: {e.message}" if e.path else f"{path}: {e.message}", err=True)
