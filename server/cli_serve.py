"""`coso serve`, `coso backup` and `coso restore`: run the server on a database (with the forms
and demo users an empty one needs), and copy the database out and put it back.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import fcntl
import logging
import os
import resource
import signal
import socket
import sqlite3
import time
from collections.abc import Iterator
from logging.handlers import QueueHandler
from pathlib import Path
from types import FrameType
from typing import Any

import click

from server.app import ROOT, Settings, create_app
from server.auth import add_user
from server.catalog import Catalog, schema_files
from server.cli_db import (
    DB_OPTION,
    check_db,
    damaged_message,
    need_dir,
    open_not_through_a_link,
    open_store,
    refuse_database_files,
    server_lock,
    why_not_opened,
)
from server.cli_forms import publish
from server.cli_users import area_label, server_url, setup_link
from server.errors import damaged, disk_full, problem_json
from server.store import Store, restore_scratch
from server.store import restore as restore_db
from server.web import API_CSP, COMMON

DEMO_USERS = (  # a real commune and its province
    ("can-bo-demo", "officer", "01.00070"),
    ("giam-sat-demo", "supervisor", "01"),
    ("quan-tri-demo", "admin", ""),
)


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


@click.command()
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
    type=click.IntRange(1, 65535),  # not 0: a port the system picks is one no link can name
    help="Cổng / Port.",
)
@click.option(
    "--url",
    envvar="COSO_URL",
    show_envvar=True,
    callback=server_url,
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

    grace = stop_grace()
    check_port(host, port)
    url = url or default_url(host, port)
    check_db(db, create=True)
    # held before anything is written: a second `coso serve` on the database changes nothing
    with server_lock(db):  # the server's own store is opened inside: never one restored under it
        with open_store(db, create=True) as store:
            welcome(store, db, url, schemas, demo)
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
        more_files()
        click.echo(
            f"\ncoso chạy tại / on {url}  — API {url}/api/v1, ứng dụng / app {url}/app/,"
            f" tài liệu / docs {url}/schema\n"
        )
        app = create_app(Settings(db=db))

        class Server(uvicorn.Server):
            """uvicorn's, telling the app at the first signal that it is stopping: what goes
            on chunk by chunk (records derived anew after a renaming publish, a request's or
            the start's) ends after its chunk, and the next start does the rest. uvicorn waits
            for requests in flight before the app hears of it: a publish deriving 100,000
            records kept a stopped server alive, deaf and holding its lock for minutes."""

            def handle_exit(self, sig: int, frame: FrameType | None) -> None:
                catalog = getattr(app.state, "catalog", None)
                if catalog is not None:
                    catalog.stopping.set()
                if not self.should_exit:
                    again = (
                        " (Ctrl+C lần nữa để dừng ngay / again to stop at once)"
                        if sig == signal.SIGINT
                        else ""
                    )
                    click.echo(f"Đang dừng… / Stopping…{again}", err=True)
                super().handle_exit(sig, frame)
                # uvicorn raises the signal again once it has stopped: the service manager's
                # SIGTERM ended the process by the signal (status 143), before "Stopped"
                self._captured_signals.clear()
                if self.force_exit:  # requests and the lifespan cut short, not failed: quiet
                    logging.getLogger("uvicorn.error").disabled = True
                    quiet = logging.getLogger("coso.stopped_at_once")
                    quiet.disabled = True
                    self.lifespan.logger = quiet

            @contextlib.contextmanager
            def capture_signals(self) -> Iterator[None]:
                """SIGHUP too, as SIGTERM: the SSH session `coso serve` ran in ended, and the
                server died with status 129, its requests cut and its WAL left unfolded."""
                with super().capture_signals():
                    before = signal.signal(signal.SIGHUP, self.handle_exit)
                    try:
                        yield
                    finally:
                        signal.signal(signal.SIGHUP, before)

        config = uvicorn.Config(
            app,
            host=host,
            port=port,
            http=problem_h11(),
            log_level="warning",
            access_log=False,  # ours is structured and never holds a token (server/web.py)
            timeout_keep_alive=10,
            # a stop waits this long for the requests in flight, then cuts them: a client that
            # stops sending its body or reading an export had kept the server deaf, holding
            # its lock, until the client hung up
            timeout_graceful_shutdown=grace,
        )
        logging.getLogger("uvicorn.error").addFilter(CutShort(grace))
        # (a signal uvicorn raised again would end in click's "Aborted!" and status 1)
        with contextlib.suppress(KeyboardInterrupt):
            Server(config).run()
        written()
        click.echo("Đã dừng / Stopped.", err=True)
        unfolded(db)


STOP_GRACE_SECONDS = 30


class CutShort(logging.Filter):
    """A stop that cuts the requests still in flight past its grace says so in one line, in
    both languages, where uvicorn logged an error and a traceback for each (a request cut by
    a stop has not failed: the client sends it again)."""

    def __init__(self, grace: int) -> None:
        super().__init__()
        self.grace = grace

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and isinstance(record.exc_info[1], asyncio.CancelledError):
            return False
        if record.getMessage().endswith("timeout graceful shutdown exceeded"):
            n = record.args[0] if isinstance(record.args, tuple) and record.args else "?"
            click.echo(
                f"Cắt {n} yêu cầu còn dở sau {self.grace} s / {n} request(s) still in flight"
                f" after {self.grace} s cut short",
                err=True,
            )
            return False
        return True


def stop_grace() -> int:
    """How long a stop waits for the requests in flight: `$COSO_STOP_GRACE` seconds, or 30."""
    text = os.environ.get("COSO_STOP_GRACE", "").strip()
    if not text:
        return STOP_GRACE_SECONDS
    if not text.isascii() or not text.isdigit():
        raise click.UsageError(
            f"COSO_STOP_GRACE={text!r}: give a whole number of seconds / hãy ghi số giây"
        )
    return int(text)


def written(wait: float = 2.0) -> None:
    """Wait (at most `wait` seconds) until the log lines queued so far are written: litestar
    logs through a queue and a thread, and the access line of a push cut short by a second
    Ctrl+C came after "Stopped." on a busy machine."""
    deadline = time.monotonic() + wait
    for logger in (logging.getLogger(), logging.getLogger("litestar")):
        for handler in logger.handlers:
            queue = getattr(handler, "queue", None) if isinstance(handler, QueueHandler) else None
            while getattr(queue, "unfinished_tasks", 0) and time.monotonic() < deadline:
                time.sleep(0.01)


def unfolded(db: str) -> None:
    """Said after a stop that left writes in the write-ahead log (the disk full, a reader
    holding it, a second Ctrl+C): a copy of the database file alone would lack them."""
    wal = Path(f"{db}-wal")
    with contextlib.suppress(OSError):
        if wal.stat().st_size > 0:
            click.echo(
                f"Lưu ý: {wal} còn giữ dữ liệu mới nhất, chưa gộp vào {db} (ổ đĩa đầy, hoặc có"
                " chương trình khác đang đọc): sao chép hay di chuyển thì mang cả hai tệp;"
                " lần chạy sau sẽ gộp vào / Note: "
                f"{wal} still holds the latest writes, not yet folded into {db} (the disk full,"
                " or another program reading it): copy or move both files together; the next"
                " start folds them in.",
                err=True,
            )


def problem_h11() -> type[asyncio.Protocol]:
    """uvicorn's HTTP/1.1 protocol (h11), with what it cannot read as HTTP (a header line with
    no colon, a 200 KB header, `Content-Length: abc`, a broken chunk) refused as every other
    error is: 400 problem+json, `bad_request`, not uvicorn's text/plain."""
    import h11
    from h11._connection import DEFAULT_MAX_INCOMPLETE_EVENT_SIZE
    from uvicorn.protocols.http.h11_impl import H11Protocol

    class OneFraming(h11.Connection):
        """A request with both Content-Length and Transfer-Encoding is refused and its
        connection closed (RFC 9112 6.1): h11 framed it by its chunks and read on, so that
        a proxy framing it by its length would see another request where coso saw a body,
        and answer the wrong client (request smuggling)."""

        def next_event(self) -> Any:
            event = super().next_event()
            if isinstance(event, h11.Request):
                names = {name for name, _ in event.headers}
                if b"content-length" in names and b"transfer-encoding" in names:
                    raise h11.RemoteProtocolError("Content-Length with Transfer-Encoding")
            return event

    class ProblemH11Protocol(H11Protocol):
        def __init__(self, config: Any, *args: Any, **kwargs: Any) -> None:
            super().__init__(config, *args, **kwargs)
            size = config.h11_max_incomplete_event_size
            self.conn = OneFraming(h11.SERVER, size or DEFAULT_MAX_INCOMPLETE_EVENT_SIZE)

        def send_400_response(self, msg: str) -> None:
            body = problem_json(400, "bad_request", f"the request is not valid HTTP/1.1 ({msg})")
            headers = [
                (b"content-type", b"application/problem+json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
                *COMMON,
                (b"content-security-policy", API_CSP.encode()),
            ]
            for event in (
                h11.Response(status_code=400, headers=headers, reason=b"Bad Request"),
                h11.Data(data=body),
                h11.EndOfMessage(),
            ):
                self.transport.write(self.conn.send(event))
            self.transport.close()

    return ProblemH11Protocol


def more_files() -> None:
    """As many open files as the system lets this process have: each connection is one, and
    uvicorn gives a connection that sends nothing no deadline, so the usual 1,024 ran out
    under a thousand idle sockets (a TLS proxy in front, with its header timeout, closes
    those before they reach us: see the README)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def default_url(host: str, port: int) -> str:
    """The server's address when no --url is given: localhost for the loopback and the
    any-addresses (0.0.0.0, ::), an IPv6 address in brackets (`http://[fd00::5]:8000`)."""
    if host in ("127.0.0.1", "0.0.0.0", "::", "::1", "", "localhost"):  # noqa: S104 (comparing)
        host = "localhost"
    elif ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}"


PUBLISHING = "publishing_schemas"  # meta: a start is publishing its folder of forms


def welcome(store: Store, db: str, url: str, schemas: Path, demo: bool) -> None:
    """What `coso serve` does and says before it starts: the forms on an empty database, and
    the demo users or how to make one."""
    catalog = Catalog(store)
    # set until the start has published the whole folder: a first start stopped half-way (a
    # Ctrl+C a second in) left some forms, which the next start took for a database in use
    cut_short = store.meta(PUBLISHING) is not None
    if not catalog.manifest() or cut_short:
        # tried on a database in memory first: a file refused halfway left a database with
        # some forms, which the next start took for one in use and published no more into
        trial = Store(":memory:")
        try:
            publish(Catalog(trial), schema_files(schemas), quiet=True)
        except click.ClickException as exc:
            raise click.ClickException(
                f"{exc.message}; no form of {schemas} published"
                f" / chưa xuất bản biểu mẫu nào trong {schemas}"
            ) from exc
        finally:
            trial.close()
        click.echo(
            f"The last start stopped while publishing: publishing the rest of {schemas}"
            " / Lần chạy trước dừng giữa chừng khi xuất bản: xuất bản tiếp các biểu mẫu:"
            if cut_short
            else f"Empty database: publishing the forms in {schemas}"
            " / Cơ sở dữ liệu trống: xuất bản các biểu mẫu:"
        )
        with store.write() as w:
            w.set_meta(PUBLISHING, str(schemas))
        publish(catalog, schema_files(schemas))
        with store.write() as w:
            w.set_meta(PUBLISHING, None)
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
            "\nChưa có người dùng / No users yet. Tạo người dùng / Create one:\n"
            f"  coso users add NAME --role admin --area '' --db {db}"
        )
    elif demo:
        click.echo(
            "\nĐã có người dùng; mã chỉ hiện khi vừa tạo / Users exist already; tokens are shown"
            " only when made. Tạo thêm / A new one:\n"
            f"  coso users add NAME --role officer --area 01.00070 --db {db}"
        )


@click.command()
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@DB_OPTION
def backup(file: Path, db: str) -> None:
    """Sao lưu / Take a consistent copy of the database, even while the server runs."""
    if file == Path() or not str(file).strip():  # `coso backup "$DEST"`, DEST left empty
        raise click.BadParameter("the file name is empty / tên tệp trống", param_hint="'FILE'")
    if file.exists():
        raise click.ClickException(f"{file} exists; choose a new file / tệp đã tồn tại")
    need_dir(file)
    # Written beside as FILE.part and renamed when whole, as an export is: a backup killed
    # half-way (a reboot, `timeout`, SIGKILL) left a full-size FILE that was no backup, found
    # out only when it was needed. A FILE.part left so is taken over by the next one.
    part = file.with_name(file.name + ".part")
    journal = Path(f"{part}-journal")
    refuse_database_files((file, part, journal), db)  # removed or replaced below
    with open_store(db) as store, _writing(part, file) as fd:
        journal.unlink(missing_ok=True)
        os.ftruncate(fd, 0)  # a FILE.part left by a backup killed half-way
        try:
            store.backup(part)
            os.replace(part, file)
        except BaseException as exc:
            for leftover in (part, journal):
                leftover.unlink(missing_ok=True)
            if disk_full(exc):
                raise click.ClickException(
                    f"no room for the backup in {file.parent}: its disk is full; nothing was"
                    f" written / không đủ chỗ cho bản sao lưu trong {file.parent}: ổ đĩa đầy"
                ) from exc
            if damaged(exc):  # keep the earlier backups: they are the good ones
                raise click.ClickException(
                    f"no backup written: {damaged_message(db, exc)}; keep the earlier backups"
                    f" / chưa ghi bản sao lưu nào, hãy giữ các bản sao lưu cũ"
                ) from exc
            raise
    click.echo(f"backup written / đã sao lưu: {file}")


@contextlib.contextmanager
def _writing(part: Path, file: Path) -> Iterator[int]:
    """FILE.part, held by this backup alone (flock) while it writes it: two backups to one
    FILE at once (a cron job's and an operator's) wrote one FILE.part together and both
    failed, with "disk I/O error". The second is told another is writing."""
    fd = open_not_through_a_link(part, os.O_RDWR)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            if os.stat(part).st_ino != os.fstat(fd).st_ino:  # renamed by the other meanwhile
                raise BlockingIOError
        except (BlockingIOError, FileNotFoundError):
            raise click.ClickException(
                f"another backup is writing {file} now / một lệnh sao lưu khác đang ghi {file}"
            ) from None
        yield fd
    finally:
        os.close(fd)


@click.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@DB_OPTION
def restore(file: Path, db: str) -> None:
    """Khôi phục / Put a backup back (stop the server first); the database gets a new
    identity, so phones and supervisors pull again from the start."""
    check_db(db, create=True)  # a new database is a restore on a new machine
    if file.resolve() == Path(db).resolve():
        raise click.ClickException(f"{file} is the database itself / tệp sao lưu chính là {db}")
    for scratch in restore_scratch(Path(db)):  # removed before and after the copy
        if scratch.exists() and os.path.samefile(file, scratch):
            raise click.ClickException(
                f"{file} has the name restore gives its working copy ({scratch.name}), which it"
                " deletes: rename it and restore again / tệp sao lưu trùng tên với bản sao tạm"
                " mà lệnh khôi phục sẽ xoá: hãy đổi tên rồi khôi phục lại"
            )
    with server_lock(db, restoring=True):
        try:
            new_id, kept = restore_db(file, db)
        except ValueError as exc:
            # (the database there could not be opened: the disk or the rights, not its data)
            cause = exc.__cause__
            why = why_not_opened(db, cause) if isinstance(cause, sqlite3.OperationalError) else None
            raise click.ClickException(why or str(exc)) from exc
        except sqlite3.OperationalError as exc:
            why = why_not_opened(db, exc)
            if why is None:
                raise
            raise click.ClickException(why) from exc
    click.echo(
        f"restored / đã khôi phục {file} -> {db}; new database id / mã cơ sở dữ liệu mới {new_id}"
    )
    # who may sign in is now's: a token disabled after the backup stays disabled
    for names, vi, en in (
        (kept.disabled, "vẫn bị khóa", "kept disabled"),
        (kept.enabled, "vẫn được mở lại", "kept enabled"),
        (kept.added, "thêm sau bản sao lưu, được giữ", "added after the backup, kept"),
        (
            kept.new_token,
            "giữ mã đăng nhập mới cấp sau bản sao lưu (mã cũ vẫn bị từ chối)",
            "keep the token given after the backup (the old one is still refused)",
        ),
    ):
        if names:
            click.echo(f"users {en} / người dùng {vi}: {', '.join(names)}")
