"""The `coso` command: the group its commands hang on, with export and areas; serve, backup and
restore (server/cli_serve.py), users (server/cli_users.py) and forms (server/cli_forms.py) are
added to it."""

from __future__ import annotations

import errno
import os
import signal
import sqlite3
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

import click

from server import areas
from server.catalog import Catalog, renames_now
from server.cli_db import (
    DB_OPTION,
    damaged_message,
    need_dir,
    open_not_through_a_link,
    open_store,
    refuse_database_files,
)
from server.cli_forms import forms
from server.cli_serve import backup, restore, serve
from server.cli_users import parse_area, users, warn_unofficial
from server.errors import damaged
from server.export import export

# click's own messages for a malformed command line, by how they begin, in Vietnamese
_USAGE_VI = (
    ("Missing option", "Thiếu tùy chọn"),
    ("Missing argument", "Thiếu tham số"),
    ("Missing parameter", "Thiếu tham số"),
    ("No such command", "Không có lệnh này"),
    ("No such option", "Không có tùy chọn này"),
    ("Invalid value", "Giá trị không hợp lệ"),
    ("Got unexpected extra argument", "Thừa tham số"),
)


# what an operator is told, in Vietnamese, of the file errors a command may meet
_OS_ERRORS_VI = {
    errno.ENOSPC: "ổ đĩa đã đầy, chưa ghi gì: hãy giải phóng chỗ trống",
    errno.EDQUOT: "đã hết hạn mức ổ đĩa của tài khoản, chưa ghi gì",
    errno.EROFS: "ổ đĩa chỉ đọc, không ghi được: hãy chọn thư mục khác",
    errno.EACCES: "tài khoản này không có quyền với tệp hoặc thư mục đó",
    errno.EPERM: "tài khoản này không có quyền với tệp hoặc thư mục đó",
    errno.ENOENT: "không có tệp hoặc thư mục đó",
    errno.EISDIR: "đó là một thư mục, không phải tệp",
    errno.ENOTDIR: "một phần của đường dẫn không phải thư mục",
    errno.EIO: "lỗi đọc/ghi của ổ đĩa",
}

# and the reasons click gives most, in Vietnamese
_REASONS_VI = (
    ("does not exist", _OS_ERRORS_VI[errno.ENOENT]),
    ("is a directory", _OS_ERRORS_VI[errno.EISDIR]),
    ("is a file", "đó là một tệp, không phải thư mục"),
    ("is not readable", "tài khoản này không đọc được"),
    ("is not writable", "tài khoản này không ghi được"),
    ("is not one of", "không phải một trong các giá trị được phép"),
    ("is not a valid integer", "không phải một số nguyên"),
)


def _bilingual_usage(exc: click.UsageError) -> click.UsageError:
    """A malformed command line said in Vietnamese beside click's English. Ours already are,
    but for the English words click puts before them ("Invalid value for USER: ...")."""
    message = exc.format_message()
    vi = next((v for en, v in _USAGE_VI if message.startswith(en)), None)
    if vi is None and " / " in message:
        return exc
    vi = vi or "Câu lệnh không đúng"
    why = next((v for en, v in _REASONS_VI if en in message), None)
    vi = f"{vi}: {why}" if why else vi
    return click.UsageError(f"{vi} / {message}", ctx=exc.ctx)


class Coso(click.Group):
    """The `coso` group: a file an operator names that cannot be used (missing, unreadable, a
    full disk) or a database error is a one-line message, not a traceback; a malformed
    command line is said in both languages."""

    def make_context(
        self,
        info_name: str | None,
        args: list[str],
        parent: click.Context | None = None,
        **extra: Any,
    ) -> click.Context:
        try:
            return super().make_context(info_name, args, parent, **extra)
        except click.UsageError as exc:
            raise _bilingual_usage(exc) from exc

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.UsageError as exc:
            raise _bilingual_usage(exc) from exc
        except BrokenPipeError:
            raise  # `coso export ... | head`: click ends quietly
        except KeyboardInterrupt:  # click said only "Aborted!", in English
            click.echo(
                "\nstopped (Ctrl-C): what was already saved is kept; run the same command again"
                " to see where it stands (a publish that was done says unchanged) / đã dừng:"
                " những gì đã lưu vẫn được giữ; hãy chạy lại lệnh để xem (một lần xuất bản đã"
                " xong sẽ báo không đổi)",
                err=True,
            )
            raise click.exceptions.Exit(130) from None
        except OSError as exc:
            what = f"{exc.filename}: " if exc.filename else ""
            vi = _OS_ERRORS_VI.get(exc.errno or 0, "lỗi tệp hoặc hệ thống")
            raise click.ClickException(f"{what}{exc.strerror or exc} / {vi}") from exc
        except sqlite3.Error as exc:
            if damaged(exc):  # met after the file opened (`serve`'s start, an export's rows)
                raise click.ClickException(damaged_message("the database", exc)) from exc
            raise click.ClickException(f"database error / lỗi cơ sở dữ liệu: {exc}") from exc


def _named(out: Path | None) -> Path | None:
    """`--out ''` (a variable left empty in a script) is no file: click reads it as `.`."""
    if out == Path():
        raise click.BadParameter("the file name is empty / tên tệp trống", param_hint="'--out'")
    return out


@click.group(cls=Coso, commands=[serve, users, forms, backup, restore])
def main() -> None:
    """coso — máy chủ đồng bộ dữ liệu công tác cơ sở / sync server for grassroots work."""


def _keep_mode(target: Path, part: Path) -> None:
    """The file replacing `target` gets its permissions (and, for root, its owner): an export
    over a file kept 0640 (personal data) must not become readable by everyone."""
    try:
        st = target.stat()
    except FileNotFoundError:
        return
    part.chmod(st.st_mode & 0o7777)
    if os.geteuid() == 0:
        os.chown(part, st.st_uid, st.st_gid)


@main.command("export")
@click.argument("form_id")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["csv", "xlsx", "jsonl"]),
    default="csv",
    show_default=True,
    help="Định dạng / Format.",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    callback=lambda ctx, param, out: _named(out),
    help="Tệp (mặc định: đầu ra chuẩn) / File (default: standard output).",
)
@click.option(
    "--area",
    default="",
    help="Chỉ địa bàn này và cấp dưới (mặc định: mọi địa bàn) / "
    "Only this area and below it (default: all areas).",
)
@DB_OPTION
def export_form(form_id: str, fmt: str, out: Path | None, area: str, db: str) -> None:
    """Xuất dữ liệu / Export every record of a form: CSV (UTF-8 with BOM), XLSX or JSONL."""
    area = parse_area(area) if area else ""
    warn_unofficial(area)  # a mistyped code exports nothing: say why
    if out is None and fmt == "xlsx" and sys.stdout.isatty():
        raise click.UsageError("XLSX is binary: give --out FILE / hãy chỉ định --out")
    if out is not None:
        need_dir(out)
    with open_store(db) as store:
        catalog = Catalog(store)
        fv = catalog.get(form_id)
        if fv is None:
            raise click.ClickException(f"no form {form_id!r} / không có biểu mẫu này")
        docs: Iterator[str] = (row.doc for row in store.iter_records(form_id, area))
        if sys.stderr.isatty():  # a progress line for people, nothing for pipes and scripts
            docs = _progress(docs, store.count_records(form_id, area), form_id)
        chunks = export(
            fmt,  # type: ignore[arg-type]
            docs,
            fv.defs,
            sheet=form_id,
            later=lambda: renames_now(catalog, form_id),
        )
        if out is None:
            sink = sys.stdout.buffer
            for chunk in chunks:
                sink.write(chunk)
            sink.flush()
        else:  # written beside, renamed when complete: a failed export leaves no half file
            # A FIFO or a device (/dev/stdout) is written as it is: a file put in its place would
            # reach no reader, and as root would replace the device. A link stays: its target is
            # written beside and replaced.
            try:
                direct = out.exists() and not out.is_file()
                target = out.resolve() if out.is_symlink() and not direct else out
            except (OSError, RuntimeError) as exc:  # a loop of links
                raise click.ClickException(
                    f"{out}: a link that leads to no file / liên kết không dẫn tới tệp nào ({exc})"
                ) from None
            part = target if direct else target.with_name(target.name + ".part")
            refuse_database_files((target, part), db)
            # stopped (Ctrl-C, SIGTERM from a service manager, SIGHUP when the SSH session ends):
            # the half file goes
            sink = _open_part(part, direct)  # a refused one is left as it is
            stops = {sig: signal.signal(sig, _interrupt) for sig in (signal.SIGTERM, signal.SIGHUP)}
            try:
                with sink as f:
                    for chunk in chunks:
                        f.write(chunk)
                if not direct:
                    _keep_mode(target, part)
                    part.replace(target)
            except _Stopped as stop:  # by SIGTERM or SIGHUP: 128 + its number, as the shell says
                click.echo(
                    f"export stopped: {out} not written / đã dừng xuất, chưa ghi tệp", err=True
                )
                raise click.exceptions.Exit(128 + stop.signum) from None
            except KeyboardInterrupt:
                click.echo(
                    f"export stopped: {out} not written / đã dừng xuất, chưa ghi tệp", err=True
                )
                raise click.exceptions.Exit(130) from None
            finally:
                if not direct:
                    part.unlink(missing_ok=True)
                for sig, before in stops.items():
                    signal.signal(sig, before)


def _open_part(part: Path, direct: bool) -> BinaryIO:
    """`part` opened to be written anew; FILE.part never through a link someone left there
    (the file it names would be truncated and overwritten, by root too)."""
    if direct:
        return part.open("wb")
    return os.fdopen(open_not_through_a_link(part, os.O_WRONLY | os.O_TRUNC), "wb")


class _Stopped(KeyboardInterrupt):
    """A stop by a signal other than Ctrl-C's."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def _interrupt(signum: int, frame: object) -> None:
    raise _Stopped(signum)


def _progress(docs: Iterator[str], total: int, label: str) -> Iterator[str]:
    """Pass `docs` through, drawing `rows done / total, rate` on standard error."""
    start = last = time.monotonic()
    done = 0

    def draw(end: str = "") -> None:
        rate = done / max(time.monotonic() - start, 1e-9)
        share = f" ({done / total:.0%})" if total else ""
        click.echo(
            f"\r{label}: {done:,} / {total:,} dòng / rows{share}  {rate:,.0f} dòng/giây / rows/s",
            nl=False,
            err=True,
        )
        if end:
            click.echo(end, nl=False, err=True)

    for doc in docs:
        yield doc
        done += 1
        if done % 1000 == 0 and time.monotonic() - last >= 0.2:
            last = time.monotonic()
            draw()
    draw("\n")


@main.group("areas")
def areas_group() -> None:
    """Địa bàn / Official area codes."""


@areas_group.command("search")
@click.argument("text")
@click.option(
    "--limit",
    default=20,
    show_default=True,
    type=click.IntRange(min=1),
    help="Số kết quả tối đa / At most this many.",
)
def areas_search(text: str, limit: int) -> None:
    """Tìm mã địa bàn / Find official area codes by name (with or without diacritics)."""
    found = areas.search(text, limit)
    if not found:
        raise click.ClickException(f"no area matches {text!r} / không tìm thấy")
    for path, full_name in found:
        click.echo(f"{path:<10} {full_name}")


if __name__ == "__main__":
    main()
