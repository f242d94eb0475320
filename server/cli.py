"""The `coso` command: serve, users, forms, areas, export, backup and restore."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import logging
import os
import socket
import sqlite3
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click

from server import areas
from server.app import ROOT, Settings, create_app
from server.auth import add_user, set_disabled
from server.catalog import Catalog, schema_files
from server.errors import bilingual_errors
from server.export import export
from server.forms import UNSHOWN, DefinitionError, nfc, parse_definition, read_source
from server.store import Store, UserRow
from server.store import restore as restore_db

DB_OPTION = click.option(
    "--db",
    default="coso.db",
    show_default=True,
    envvar="COSO_DB",
    help="SQLite database file / tệp cơ sở dữ liệu.",
)
DEMO_USERS = (  # a real commune and its province
    ("can-bo-demo", "officer", "01.00070"),
    ("giam-sat-demo", "supervisor", "01"),
    ("quan-tri-demo", "admin", ""),
)


class Coso(click.Group):
    """The `coso` group: a file an operator names that cannot be used (missing, unreadable, a
    full disk) or a database error is a one-line message, not a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except BrokenPipeError:
            raise  # `coso export ... | head`: click ends quietly
        except OSError as exc:
            what = f"{exc.filename}: " if exc.filename else ""
            raise click.ClickException(
                f"{what}{exc.strerror or exc} / lỗi tệp hoặc hệ thống"
            ) from exc
        except sqlite3.Error as exc:
            raise click.ClickException(f"database error / lỗi cơ sở dữ liệu: {exc}") from exc


def need_dir(file: Path) -> None:
    """Refuse a file to be made in a directory that does not exist."""
    parent = file.absolute().parent
    if not parent.is_dir():
        raise click.ClickException(f"no directory {parent} / không có thư mục {parent}")


def check_db(db: str, *, create: bool = False) -> None:
    """Refuse a --db that is a directory, or that does not exist unless the command makes one
    (`serve`, `users add`, `restore`): a mistyped path must not become an empty database."""
    path = Path(db)
    if path.is_dir():
        raise click.ClickException(
            f"{db} is a directory, not a database file / là thư mục, không phải tệp cơ sở dữ liệu"
        )
    if create:
        need_dir(path)
    elif not path.exists():
        raise click.ClickException(f"no database at {db} / không có cơ sở dữ liệu tại {db}")


@contextlib.contextmanager
def open_store(db: str, *, create: bool = False) -> Iterator[Store]:
    """The database a command works on, checked by `check_db`, closed when the block ends; a
    file SQLite cannot open, or one that is not coso's, is a message."""
    check_db(db, create=create)
    try:
        store = Store(db)
    except sqlite3.OperationalError as exc:  # locked, not readable, not writable
        raise click.ClickException(
            f"cannot open {db}: {exc} / không mở được cơ sở dữ liệu {db}"
        ) from exc
    except sqlite3.DatabaseError as exc:  # "file is not a database", another program's
        raise click.ClickException(
            f"{db} is not a coso database ({exc}) / không phải cơ sở dữ liệu coso"
        ) from exc
    try:
        yield store
    finally:
        store.close()


@contextlib.contextmanager
def server_lock(db: str, *, restoring: bool = False) -> Iterator[None]:
    """`coso serve` holds this, shared, for as long as it runs; `coso restore` takes it
    exclusively without waiting, so that it never swaps the database under a running server
    (which would go on with the old database id). A file beside the database, since SQLite
    locks only during transactions; the kernel lets go when the process ends, however it ends."""
    if db == ":memory:":
        yield
        return
    path = Path(db).resolve()
    with path.with_name(path.name + ".lock").open("a") as f:
        try:
            fcntl.flock(f, (fcntl.LOCK_EX | fcntl.LOCK_NB) if restoring else fcntl.LOCK_SH)
        except BlockingIOError as exc:
            raise click.ClickException(
                f"a coso server is running on {db}: stop the server first"
                " / máy chủ coso đang chạy trên cơ sở dữ liệu này: hãy dừng máy chủ trước"
            ) from exc
        yield


def check_port(host: str, port: int) -> None:
    """Refuse, before the banner, an address the server could not listen on (a port in use,
    a host not of this machine): each address of `host` bound as asyncio will bind it for
    uvicorn (SO_REUSEADDR, IPv6 only on IPv6, an address family the machine lacks skipped),
    then let go."""
    try:
        infos = socket.getaddrinfo(
            host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )
        bound = 0
        for family, kind, proto, _, address in dict.fromkeys(infos):
            with socket.socket(family, kind, proto) as sock:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                if family == socket.AF_INET6:
                    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                try:
                    sock.bind(address)
                except OSError as exc:
                    if exc.errno != errno.EADDRNOTAVAIL:
                        raise
                else:
                    bound += 1
        if not bound:
            raise OSError(errno.EADDRNOTAVAIL, os.strerror(errno.EADDRNOTAVAIL))
    except OSError as exc:
        in_use = ": cổng đang được dùng" if exc.errno == errno.EADDRINUSE else ""
        raise click.ClickException(
            f"cannot listen on {host}:{port}: {exc.strerror or exc}"
            f" / không mở được cổng {port} trên {host}{in_use}"
        ) from exc


def publish(catalog: Catalog, files: list[Path]) -> None:
    """Publish `files` in the order given, one line each (file, form, version). Every file is
    read and checked as a definition first: one that is not UTF-8, YAML or JSON, or not a
    definition, publishes nothing. A change between versions that is refused (type changed,
    rename collision) stops at that file, after saying what was published before it."""
    parsed = []
    for path in files:
        try:
            parsed.append((path, parse_definition(read_source(path.read_text("utf-8"), path.name))))
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


def setup_link(url: str, token: str) -> str:
    return f"{url.rstrip('/')}/app/#token={token}"


def area_label(area: str) -> str:
    """An area's code and official name, as `users add` prints them."""
    return f"{area} {areas.name(area) or ''}".strip() or "(all areas / toàn quốc)"


@click.group(cls=Coso)
def main() -> None:
    """coso — máy chủ đồng bộ dữ liệu công tác cơ sở / sync server for grassroots work."""


@main.command()
@DB_OPTION
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Địa chỉ lắng nghe / Address to listen on (0.0.0.0: every network interface).",
)
@click.option(
    "--port",
    default=8000,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="Cổng / Port.",
)
@click.option(
    "--url",
    envvar="COSO_URL",
    help="Địa chỉ điện thoại dùng / The address phones use, e.g. https://coso.example.vn "
    "behind an HTTPS proxy (for the setup links printed); default http://localhost:PORT.",
)
@click.option(
    "--schemas",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=ROOT / "schemas",
    show_default=True,
    help="Biểu mẫu xuất bản khi cơ sở dữ liệu trống / "
    "Form definitions to publish on an empty database.",
)
@click.option(
    "--demo",
    is_flag=True,
    help="Tạo người dùng thử / Also create one demo user per role and print their tokens.",
)
def serve(db: str, host: str, port: int, url: str | None, schemas: Path, demo: bool) -> None:
    """Chạy máy chủ / Run the server (API at /api/v1, phone app at /app/)."""
    import uvicorn

    check_port(host, port)
    local = host in ("127.0.0.1", "0.0.0.0")  # noqa: S104 (comparing, not binding)
    url = (url or f"http://{'localhost' if local else host}:{port}").rstrip("/")
    with open_store(db, create=True) as store:
        welcome(store, db, url, schemas, demo)
    with server_lock(db):  # the server's own store is opened inside: never one restored under it
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
        click.echo(f"\ncoso on {url}  — API {url}/api/v1, app {url}/app/, docs {url}/schema\n")
        uvicorn.run(
            create_app(Settings(db=db)),
            host=host,
            port=port,
            log_level="warning",
            access_log=False,  # ours is structured and never holds a token (server/web.py)
            timeout_keep_alive=10,
        )


def welcome(store: Store, db: str, url: str, schemas: Path, demo: bool) -> None:
    """What `coso serve` does and says before it starts: the forms on an empty database, and
    the demo users or how to make one."""
    catalog = Catalog(store)
    if not catalog.manifest():
        click.echo(f"Empty database: publishing the forms in {schemas} / Xuất bản biểu mẫu:")
        publish(catalog, schema_files(schemas))
    if demo and not store.users():
        click.echo("\nDemo users / Người dùng thử (tokens are shown only now / chỉ hiện một lần):")
        for name, role, area in DEMO_USERS:
            _, token = add_user(store, name, role, area)
            click.echo(
                f"  {role:<10} {name:<14} area {area_label(area)}\n             token {token}"
            )
            if role == "officer":
                click.echo(
                    f"             phone setup link / liên kết cài đặt: {setup_link(url, token)}"
                )
    elif not store.users():
        click.echo(
            "\nNo users yet. Create one / Tạo người dùng:\n"
            f"  coso users add NAME --role admin --area '' --db {db}"
        )
    elif demo:
        click.echo(
            "\nUsers exist already; tokens are shown only when made. A new one / Tạo thêm:\n"
            f"  coso users add NAME --role officer --area 01.00070 --db {db}"
        )


@main.group()
def users() -> None:
    """Người dùng / Users."""


@users.command("add")
@click.argument("name")
@click.option("--role", type=click.Choice(["officer", "supervisor", "admin"]), required=True)
@click.option(
    "--area", required=True, help="Area path, e.g. 01.00070 ('' for an admin of all areas)."
)
@click.option(
    "--url",
    default="http://localhost:8000",
    show_default=True,
    envvar="COSO_URL",
    help="The server's address, for the phone setup link.",
)
@DB_OPTION
def users_add(name: str, role: str, area: str, url: str, db: str) -> None:
    """Tạo người dùng / Create a user; the token is the last line of the output."""
    name = name.strip()
    if not name:
        raise click.BadParameter("a name is needed / cần có tên", param_hint="NAME")
    bad = UNSHOWN.search(name)
    if bad is not None:  # shown in the audit log, the app's header and every submission
        raise click.BadParameter(
            f"U+{ord(bad[0]):04X} at character {bad.start() + 1} is a control or direction"
            " character, not text / tên có ký tự điều khiển, không phải chữ",
            param_hint="NAME",
        )
    if role == "admin" and area not in ("", "*"):  # PROTOCOL: an admin is everything
        raise click.BadParameter(
            "an admin sees every area: give --area '' / quản trị viên quản lý mọi địa bàn: "
            "dùng --area ''",
            param_hint="--area",
        )
    try:
        area = "" if role == "admin" else areas.parse(area)
    except areas.AreaError as exc:
        raise click.BadParameter(str(exc), param_hint="--area") from exc
    if area and not areas.is_official(area):
        click.echo(
            f"warning / cảnh báo: {area} không phải mã địa bàn chính thức, vẫn được chấp nhận "
            "(thí điểm, kiểm thử) / is not an official area code (accepted for pilots and tests)",
            err=True,
        )
    with open_store(db, create=True) as store:
        user, token = add_user(store, name, role, area)
    where = areas.name(area) or ("(all areas / toàn quốc)" if not area else "")
    click.echo(f"{user.role} {user.name} — area {area} {where}".rstrip())
    if role == "officer":
        import segno

        link = setup_link(url, token)
        click.echo(f"Phone setup link / Liên kết cài đặt điện thoại:\n{link}")
        segno.make(link, error="l").terminal(out=sys.stderr, compact=True)
    click.echo("Token (shown once / chỉ hiện một lần):")
    click.echo(token)


@users.command("list")
@DB_OPTION
def users_list(db: str) -> None:
    """Danh sách người dùng / List the users: id, name, role, area, when made, disabled or not."""
    with open_store(db) as store:
        rows = store.user_rows()
    if not rows:
        click.echo("chưa có người dùng / no users yet")
        return
    table = [
        (
            "id",
            "tên / name",
            "vai trò / role",
            "địa bàn / area",
            "tạo lúc / created",
            "trạng thái / status",
        ),
        *(
            (
                str(u.id),
                u.name if u.name.isprintable() else repr(u.name),  # one line per user, always
                u.role,
                area_label(u.area),
                u.created_at,
                "đã khóa / disabled" if u.disabled else "hoạt động / active",
            )
            for u in rows
        ),
    ]
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    for row in table:
        click.echo("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())


def find_user(store: Store, key: str) -> UserRow:
    """USER of `users disable`/`enable`: the user with that id, else the one user of that
    name. An id always names one user; a name two users share is refused, not guessed at."""
    key = nfc(key.strip())
    if key.isascii() and key.isdigit() and len(key) < 19:  # within SQLite's integers
        found = store.user_rows(user_id=int(key))
        if found:
            return found[0]
    found = store.user_rows(name=key)
    if not found:
        raise click.BadParameter(
            f"no user has the id or name {key!r} (see coso users list)"
            " / không có người dùng nào có mã số hoặc tên này (xem coso users list)",
            param_hint="USER",
        )
    if len(found) > 1:
        ids = ", ".join(str(u.id) for u in found)
        raise click.BadParameter(
            f"{len(found)} users are named {key!r} (ids {ids}): give the id"
            f" / {len(found)} người dùng có tên này (mã số {ids}): hãy dùng mã số",
            param_hint="USER",
        )
    return found[0]


def change_user(key: str, db: str, *, disabled: bool) -> None:
    with open_store(db) as store:
        user = find_user(store, key)
        changed = set_disabled(store, user, disabled)
    who = f"{user.id} {user.name} — {user.role}, {area_label(user.area)}"
    if disabled and changed:
        click.echo(
            f"đã khóa / disabled: {who}; mã truy cập bị từ chối từ bây giờ"
            " / its token is refused from now on"
        )
    elif disabled:
        click.echo(f"đã khóa từ trước, không thay đổi / already disabled, nothing changed: {who}")
    elif changed:
        click.echo(
            f"đã mở khóa / enabled: {who}; mã truy cập dùng lại được / its token works again"
        )
    else:
        click.echo(f"không bị khóa, không thay đổi / not disabled, nothing changed: {who}")


@users.command("disable")
@click.argument("user")
@DB_OPTION
def users_disable(user: str, db: str) -> None:
    """Khóa người dùng / Disable a user (a lost phone): its token gets 401 at once, from a
    running server too. USER: an id (see `coso users list`) or a name."""
    change_user(user, db, disabled=True)


@users.command("enable")
@click.argument("user")
@DB_OPTION
def users_enable(user: str, db: str) -> None:
    """Mở khóa người dùng / Enable a disabled user again: the same token works again.
    USER: an id (see `coso users list`) or a name."""
    change_user(user, db, disabled=False)


@main.group()
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


@main.command("export")
@click.argument("form_id")
@click.option(
    "--format", "fmt", type=click.Choice(["csv", "xlsx", "jsonl"]), default="csv", show_default=True
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="File (default: standard output).",
)
@click.option("--area", default="", help="Only this area and below it (default: all areas).")
@DB_OPTION
def export_form(form_id: str, fmt: str, out: Path | None, area: str, db: str) -> None:
    """Xuất dữ liệu / Export every record of a form: CSV (UTF-8 with BOM), XLSX or JSONL."""
    try:
        area = areas.parse(area) if area else ""
    except areas.AreaError as exc:
        raise click.BadParameter(str(exc), param_hint="--area") from exc
    if out is None and fmt == "xlsx" and sys.stdout.isatty():
        raise click.UsageError("XLSX is binary: give --out FILE / hãy chỉ định --out")
    if out is not None:
        need_dir(out)
    with open_store(db) as store:
        fv = Catalog(store).get(form_id)
        if fv is None:
            raise click.ClickException(f"no form {form_id!r} / không có biểu mẫu này")
        docs: Iterator[str] = (row.doc for row in store.iter_records(form_id, area))
        if sys.stderr.isatty():  # a progress line for people, nothing for pipes and scripts
            docs = _progress(docs, store.count_records(form_id, area), form_id)
        chunks = export(fmt, docs, fv.defs, sheet=form_id)  # type: ignore[arg-type]
        if out is None:
            sink = sys.stdout.buffer
            for chunk in chunks:
                sink.write(chunk)
            sink.flush()
        else:  # written beside, renamed when complete: a failed export leaves no half file
            part = out.with_name(out.name + ".part")
            try:
                with part.open("wb") as f:
                    for chunk in chunks:
                        f.write(chunk)
                part.replace(out)
            finally:
                part.unlink(missing_ok=True)


def _progress(docs: Iterator[str], total: int, label: str) -> Iterator[str]:
    """Pass `docs` through, drawing `rows done / total, rate` on standard error."""
    start = last = time.monotonic()
    done = 0

    def draw(end: str = "") -> None:
        rate = done / max(time.monotonic() - start, 1e-9)
        share = f" ({done / total:.0%})" if total else ""
        click.echo(
            f"\r{label}: {done:,} / {total:,} rows{share}  {rate:,.0f} rows/s", nl=False, err=True
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
@click.option("--limit", default=20, show_default=True, type=click.IntRange(min=1))
def areas_search(text: str, limit: int) -> None:
    """Tìm mã địa bàn / Find official area codes by name (with or without diacritics)."""
    found = areas.search(text, limit)
    if not found:
        raise click.ClickException(f"no area matches {text!r} / không tìm thấy")
    for path, full_name in found:
        click.echo(f"{path:<10} {full_name}")


@main.command()
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@DB_OPTION
def backup(file: Path, db: str) -> None:
    """Sao lưu / Take a consistent copy of the database, even while the server runs."""
    if file.exists():
        raise click.ClickException(f"{file} exists; choose a new file / tệp đã tồn tại")
    need_dir(file)
    with open_store(db) as store:
        try:
            store.backup(file)
        except BaseException:
            file.unlink(missing_ok=True)  # no half a backup (it did not exist before)
            raise
    click.echo(f"backup written / đã sao lưu: {file}")


@main.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@DB_OPTION
def restore(file: Path, db: str) -> None:
    """Khôi phục / Put a backup back (stop the server first); the database gets a new
    identity, so phones and supervisors pull again from the start."""
    check_db(db, create=True)  # a new database is a restore on a new machine
    if file.resolve() == Path(db).resolve():
        raise click.ClickException(f"{file} is the database itself / tệp sao lưu chính là {db}")
    with server_lock(db, restoring=True):
        try:
            new_id = restore_db(file, db)
        except ValueError as exc:
            raise click.ClickException(str(exc)) from exc
    click.echo(f"restored / đã khôi phục {file} -> {db}; new database id {new_id}")


if __name__ == "__main__":
    main()
