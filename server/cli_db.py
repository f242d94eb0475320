"""The database file a `coso` command is given (--db): checked (a directory, or a missing file
where the command makes none, is refused), opened with a one-line message for a file SQLite
cannot open, and locked so that `restore` never swaps it under a running server.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import pwd
import sqlite3
from collections.abc import Iterable, Iterator
from pathlib import Path

import click

from server.errors import disk_full, no_room
from server.store import NewerDatabase, Store

DB_OPTION = click.option(
    "--db",
    default="coso.db",
    show_default=True,
    envvar="COSO_DB",
    show_envvar=True,
    help="SQLite database file / tệp cơ sở dữ liệu.",
)


def need_dir(file: Path) -> None:
    """Refuse a file to be made in a directory that does not exist."""
    parent = file.absolute().parent
    if not parent.is_dir():
        raise click.ClickException(f"no directory {parent} / không có thư mục {parent}")


# The files SQLite and `coso serve` keep for a database at PATH: PATH and these beside it.
DB_FILE_ENDS = ("", "-wal", "-shm", "-journal", ".lock")


def _same_file(a: Path, b: Path) -> bool:
    """Whether `a` and `b` name one file: the same path once links are followed, or one file
    under two names (a hard link)."""
    try:
        if a.exists() and b.exists():
            return os.path.samefile(a, b)
        return a.resolve() == b.resolve()
    except (OSError, RuntimeError):  # a loop of links names no file
        return False


def refuse_database_files(paths: Iterable[Path], db: str) -> None:
    """Refuse to write, replace or delete any of `paths` when it is one of the database's own
    files (the database, its -wal, -shm, -journal or lock), by whatever name: `--out coso.db`
    on an export had replaced every record with the CSV, with exit status 0."""
    # by the name given and by the file it leads to (a link): SQLite keeps its -wal and -shm
    # beside the file the link names
    bases = {Path(db), Path(db).resolve()}
    own = [Path(f"{base}{end}") for base in bases for end in DB_FILE_ENDS]
    for path in paths:
        for mine in own:
            if _same_file(path, mine):
                raise click.ClickException(
                    f"{path} would overwrite {mine}, a file of the database {db}; nothing was"
                    f" written: choose another name / {path} sẽ ghi đè lên {mine}, tệp của cơ sở"
                    f" dữ liệu {db}; chưa ghi gì: hãy chọn tên khác"
                )


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
    elif _empty(path):  # `touch coso.db`: SQLite would make it an empty database
        raise click.ClickException(
            f"{db} is an empty file, not a database / là tệp rỗng, không phải cơ sở dữ liệu"
        )


def _empty(path: Path) -> bool:
    """A file of no bytes, with no write-ahead log holding its pages either."""
    wal = path.with_name(path.name + "-wal")
    try:
        return path.stat().st_size == 0 and not (wal.exists() and wal.stat().st_size > 0)
    except OSError:
        return False


def why_not_opened(db: str, exc: BaseException) -> str | None:
    """What stopped a command opening `db` (SQLite's `exc`, or the OS's for a file beside it),
    in both languages, when it is the disk or the rights, not the database: SQLite makes
    `-shm` and `-wal` beside the database as it opens it, and said only "disk I/O error",
    "unable to open database file" or "attempt to write a readonly database"."""
    path = Path(db).resolve()
    if disk_full(exc) or no_room(path.parent):
        return (
            f"cannot open {db}: its disk is full; nothing was changed: free some space and try"
            f" again / không mở được {db}: ổ đĩa đã đầy, chưa thay đổi gì; hãy giải phóng bớt"
            " chỗ trống rồi thử lại"
        )
    try:
        medium = bool(os.statvfs(path.parent).f_flag & os.ST_RDONLY)
    except OSError:
        medium = False
    if medium or (isinstance(exc, OSError) and exc.errno == errno.EROFS):
        return (
            f"cannot open {db}: it is on a read-only medium, and coso opens every database for"
            " writing: copy it to a folder you can write to, and run the command on the copy"
            f" / không mở được {db}: tệp nằm trên ổ chỉ cho đọc, mà coso luôn mở cơ sở dữ liệu"
            " để ghi: hãy chép nó sang thư mục ghi được rồi chạy lệnh trên bản chép"
        )
    beside = [path.with_name(path.name + end) for end in ("", "-wal", "-shm", ".lock")]
    barred = [p for p in [*beside, path.parent] if _barred(p)]
    if barred:
        owner = _owner(path)
        owner = _owner(path.parent) if owner == "?" else owner  # none yet: its folder's
        me = _owner(None)
        return (
            f"cannot open {db}: this account ({me}) may not write {barred[0]}: run the command as"
            f" the account the server runs as ({owner} owns {db}), or give this one the right"
            f" / không mở được {db}: tài khoản này ({me}) không có quyền ghi {barred[0]}: hãy"
            f" chạy lệnh bằng tài khoản chạy máy chủ ({owner} là chủ của tệp), hoặc cấp quyền"
            " ghi cho tài khoản này"
        )
    return None


def _barred(path: Path) -> bool:
    """Whether `path` is there and this account may not write it (or may not even look)."""
    try:
        return path.exists() and not os.access(path, os.W_OK)
    except OSError:  # a folder on the way it may not enter
        return True


def _owner(path: Path | None) -> str:
    """The name of the account that owns `path` (None: that runs this command)."""
    try:
        uid = os.geteuid() if path is None else path.stat().st_uid
    except OSError:
        return "?"
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid {uid}"


def open_not_through_a_link(part: Path, flags: int) -> int:
    """`part` (a FILE.part a command writes, and renames over FILE when whole) opened with
    `flags`, never through a symbolic link someone left there: the file it names would be
    truncated and overwritten, by root too, in a folder others may write."""
    try:
        return os.open(part, flags | os.O_CREAT | os.O_NOFOLLOW, 0o666)  # as SQLite makes one
    except OSError as exc:
        if exc.errno != errno.ELOOP:
            raise
        raise click.ClickException(
            f"{part} is a symbolic link: remove it, or choose another FILE / {part} là một"
            f" liên kết tượng trưng: hãy xóa nó, hoặc chọn tệp khác"
        ) from None


def damaged_message(db: str | Path, exc: BaseException | str) -> str:
    """What an operator does with a database SQLite found damaged pages in."""
    return (
        f"{db} is damaged ({exc}): stop the server, move the file aside, and restore the latest"
        f" good backup (coso restore) / cơ sở dữ liệu bị hỏng: hãy dừng máy chủ, chuyển tệp sang"
        f" chỗ khác rồi khôi phục bản sao lưu tốt gần nhất"
    )


@contextlib.contextmanager
def open_store(db: str, *, create: bool = False) -> Iterator[Store]:
    """The database a command works on, checked by `check_db`, closed when the block ends; a
    file SQLite cannot open, or one that is not coso's, is a message."""
    check_db(db, create=create)
    try:
        store = Store(db)
    except NewerDatabase as exc:
        raise click.ClickException(str(exc)) from exc
    except sqlite3.OperationalError as exc:  # locked, not readable, not writable
        why = why_not_opened(db, exc)
        if why is None:
            why = f"cannot open {db}: {exc} / không mở được cơ sở dữ liệu {db}"
        raise click.ClickException(why) from exc
    except sqlite3.DatabaseError as exc:  # "file is not a database", another program's
        if "malformed" in str(exc):
            raise click.ClickException(damaged_message(db, exc)) from exc
        raise click.ClickException(
            f"{db} is not a coso database ({exc}) / không phải cơ sở dữ liệu coso"
        ) from exc
    try:
        yield store
    finally:
        store.close()


@contextlib.contextmanager
def server_lock(db: str, *, restoring: bool = False) -> Iterator[None]:
    """`coso serve` holds this for as long as it runs, and `coso restore` while it swaps the
    database: both take it exclusively without waiting, so that a restore never swaps the
    database under a running server (which would go on with the old database id), and a
    second server never runs beside the first (each would keep its own write lock and form
    cache). A file beside the database, since SQLite locks only during transactions; the
    kernel lets go when the process ends, however it ends."""
    if db == ":memory:":
        yield
        return
    path = Path(db).resolve()
    lock = path.with_name(path.name + ".lock")
    made = not lock.exists()  # a command refused leaves no lock file it made
    new = not path.exists()  # ...nor a database (an empty file, which SQLite starts from)
    try:
        opened = lock.open("a")
    except OSError as exc:  # a read-only medium, a full disk, a folder of another account
        why = why_not_opened(db, exc)
        if why is None:
            raise
        raise click.ClickException(why) from exc
    with opened as f, contextlib.ExitStack() as held:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            # ...and the database file itself, which a hard link (another name, so another
            # lock file) or a lock file deleted by a clean-up would not stop. flock is not
            # SQLite's fcntl lock: the two never meet. Held open until the store is closed.
            # (a server's new database made empty here to be locked; a restore makes its own)
            if not (restoring and new):
                fcntl.flock(held.enter_context(path.open("ab")), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            if made:  # ours (a hard link's own name): the server running holds the other
                lock.unlink(missing_ok=True)
            if restoring:
                message = (
                    f"a coso server is running on {db}: stop the server first"
                    " / máy chủ coso đang chạy trên cơ sở dữ liệu này: hãy dừng máy chủ trước"
                )
            else:
                message = (
                    f"a coso server (or a restore) is already running on {db}"
                    " / một máy chủ coso (hoặc lệnh khôi phục) đang chạy trên cơ sở dữ liệu này"
                )
            raise click.ClickException(message) from exc
        try:
            yield
        except click.ClickException:
            if made:  # still held: no one else took it meanwhile
                lock.unlink(missing_ok=True)
            wal = path.with_name(path.name + "-wal")
            if new and path.exists() and not path.stat().st_size and not wal.exists():
                path.unlink()
            raise
