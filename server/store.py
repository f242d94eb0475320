"""The store: a coso database opened, migrated, written through one path, read, backed up and
restored. SQLite through sqlite-utils. The store's modules are the only ones with SQL: this one,
store_schema.py (the migrations and the rows) and store_write.py (the statements of a write).

Writes go through `Store.write()`: one writer connection behind a lock, `BEGIN IMMEDIATE`,
committed with `synchronous=FULL` (so a returned call is durable). Reads use a connection per
thread (WAL lets them run beside the writer). The schema is created and upgraded by the
numbered steps in `MIGRATIONS`, tracked in `PRAGMA user_version`. Another backend
(PostgreSQL) would implement the same methods.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
import shutil
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlite_utils import Database

from server import areas
from server.item import now_iso
from server.store_schema import (
    COSO_TABLES,
    DERIVE_RULES,
    MIGRATIONS,
    RecordRow,
    SubmissionRow,
    User,
    UserRow,
)
from server.store_write import Writer, _select_in, _submissions_of

BUSY_SECONDS = 30  # how long a write waits for its turn before it is refused 503 `busy`
STOP_WAIT_SECONDS = 3  # how long a stop waits for readers to fold the write-ahead log in


# Changes of an area after a cursor under which a page reads the area's own records, sorted,
# rather than walking every change in order (Store.records_page)
FEW_CHANGES = 20_000


def _area_clause(column: str, area: str) -> tuple[str, list[str]]:
    """SQL matching `column` inside `area` (the area itself and everything below)."""
    if area == "":
        return "1", []
    prefix = areas.sql_prefix(area)
    return f"({column} = ? OR ({column} >= ? AND {column} < ?))", [area, prefix, area + "/"]


class NewerDatabase(Exception):
    """A database whose schema a newer coso made: refused, never written by this one."""


class DatabaseGone(Exception):
    """The database file was deleted, moved or replaced while coso had it open: a write would
    go into a file no one can open again (acknowledged, then lost), a new connection would
    make an empty database in its place. Refused until the file is back."""


def _identity(path: str) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return st.st_dev, st.st_ino


# A page of records ends, with more to come, once its documents hold this much (one record at
# least): text fields may hold 100,000 characters each, so 1000 records may be gigabytes.
PAGE_BYTES = 4 * 1024 * 1024


def _page_of(
    rows: Iterable[tuple[Any, ...]],
    limit: int,
    max_bytes: int | None,
    size_of: Callable[[tuple[Any, ...]], int],
) -> tuple[list[tuple[Any, ...]], bool]:
    """The first `limit` of `rows` (read `limit + 1` at most), none after those that hold
    `max_bytes` by `size_of` (one at least, however large), and whether more came after them.
    Stops reading there: the rows past a page full are never fetched."""
    page: list[tuple[Any, ...]] = []
    size = 0
    for row in rows:
        if len(page) == limit or (max_bytes is not None and size >= max_bytes):
            return page, True
        page.append(row)
        size += size_of(row)
    return page, False


class Store:
    """A coso database. `Store(":memory:")` for tests, a file path for everything else."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self.memory = self.path == ":memory:"
        self._lock = threading.RLock()
        self._local = threading.local()
        # what SQLite said of pages found damaged while serving (app.problem), for /healthz
        self.damaged: str | None = None
        if not self.memory:  # checked before _connect() turns WAL on in another program's file
            with contextlib.closing(sqlite3.connect(self.path)) as conn:
                version = conn.execute("PRAGMA user_version").fetchone()[0]
                tables = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
            if version == 0 and tables:  # never migrated by coso, yet it holds tables
                raise sqlite3.DatabaseError("it holds another program's tables, not coso's")
            if version > len(MIGRATIONS):  # written by a newer coso: this one would misread it
                raise NewerDatabase(
                    f"{self.path} comes from a newer coso (schema {version}, this one knows"
                    f" {len(MIGRATIONS)}): upgrade coso first"
                    " / cơ sở dữ liệu của phiên bản coso mới hơn: hãy nâng cấp coso trước"
                )
        self._writer = self._connect()
        self._file = None if self.memory else _identity(self.path)
        self._wal: tuple[int, int] | None = None
        try:
            self.db = Database(self._writer)
            with self._lock:
                self._migrate()
            self.db_id: str = self._writer.execute(
                "SELECT value FROM meta WHERE key = 'db_id'"
            ).fetchone()[0]
            # the write-ahead log too (there once the database has been written), which holds
            # what was written since the last checkpoint: deleted, every push was still
            # answered 200, into a file no one can open again, and lost at the next crash
            self._wal = None if self.memory else _identity(self.path + "-wal")
        except BaseException:
            self._writer.close()
            raise

    def _check_file(self) -> None:
        """DatabaseGone unless the file at `path` and its write-ahead log are still the ones
        opened (two stats: some µs)."""
        if self.memory:
            return
        if _identity(self.path) != self._file:
            raise DatabaseGone(
                f"{self.path} was deleted, moved or replaced while the server had it open:"
                " put it back (or restore a backup) and restart the server"
            )
        wal = _identity(self.path + "-wal")
        if self._wal is None:  # none when opened: made at the first write (a backup, in
            # rollback-journal mode, switched to WAL makes it only then)
            self._wal = wal
        elif wal != self._wal:
            raise DatabaseGone(
                f"{self.path}-wal, the database's write-ahead log, was deleted or replaced while"
                " the server had it open: stop the server cleanly (Ctrl+C or SIGTERM, never"
                f" kill -9), which folds what it holds into {self.path}, then start it again"
            )

    def _connect(self, *, create: bool = True) -> sqlite3.Connection:
        where, uri = self.path, False
        if not create and not self.memory:  # never an empty database where one has gone
            where, uri = Path(self.path).absolute().as_uri() + "?mode=rw", True
        conn = sqlite3.connect(where, check_same_thread=False, timeout=BUSY_SECONDS, uri=uri)
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute(f"PRAGMA busy_timeout = {BUSY_SECONDS * 1000}")
        if not self.memory:
            conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = FULL")
        return conn

    def _migrate(self) -> None:
        current = self._writer.execute("PRAGMA user_version").fetchone()[0]
        for number, script in enumerate(MIGRATIONS[current:], start=current + 1):
            self._writer.executescript(
                f"BEGIN IMMEDIATE; {script}; PRAGMA user_version = {number}; COMMIT;"
            )
        self._writer.execute(
            "INSERT OR IGNORE INTO meta (key, value) VALUES ('db_id', ?)", [str(uuid.uuid4())]
        )
        if current == 0:  # made now: every record will be derived under these rules
            self._writer.execute(
                "INSERT OR IGNORE INTO meta (key, value) VALUES ('derive_rules', ?)",
                [str(DERIVE_RULES)],
            )
        self._writer.commit()

    def close(self) -> None:
        """Closed with the WAL folded into the database file: SQLite does that only when the
        last connection closes, and the readers of the request threads are still open, so a
        stopped server left its latest writes in `-wal` beside it (a copy of the file alone,
        taken after a clean stop, lacked them)."""
        with self._lock:
            if not self.memory:
                # a reader mid-read (an export, a `coso backup`) holds the rest back: folded
                # at the next start; what is left is said by `coso serve` as it stops
                with contextlib.suppress(sqlite3.Error):
                    self._writer.execute(f"PRAGMA busy_timeout = {STOP_WAIT_SECONDS * 1000}")
                    self._writer.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
            self._writer.close()
        reader = getattr(self._local, "conn", None)
        if reader is not None:
            reader.close()

    # --- the one write path -------------------------------------------------------------

    @contextlib.contextmanager
    def write(self) -> Iterator[Writer]:
        """A write transaction: one at a time, BEGIN IMMEDIATE, durable once it returns.

        It waits BUSY_SECONDS in all for its turn: behind this process's other writes, then
        behind another process's (`coso` commands), past which SQLite's "database is locked"
        is a 503 `busy` (server/app.py). Waiting the whole time at each made a minute."""
        deadline = time.monotonic() + BUSY_SECONDS
        if not self._lock.acquire(timeout=BUSY_SECONDS):
            raise sqlite3.OperationalError("database is locked (by this server's other writes)")
        try:
            self._check_file()
            conn = self._writer
            left = max(1, int((deadline - time.monotonic()) * 1000))
            conn.execute(f"PRAGMA busy_timeout = {left}")
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield Writer(conn)
            except BaseException:
                conn.rollback()
                raise
            conn.commit()
            # gone meanwhile: the commit went into a file no one will open, so it is no
            # acknowledgement (the client keeps its items and sends them again)
            self._check_file()
        finally:
            self._lock.release()

    @contextlib.contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        """A connection for reads: this thread's own, or the only one in memory."""
        if self.memory:
            with self._lock:
                yield self._writer
            return
        self._check_file()
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = self._connect(create=False)
        yield conn

    @contextlib.contextmanager
    def snapshot(self) -> Iterator[None]:
        """The reads of this thread inside the block see one moment of the database (one read
        transaction), as several statements answering one request must: a record and its
        submissions read while a push commits between them would disagree."""
        with self.read() as conn:
            conn.execute("BEGIN")
            try:
                yield
            finally:
                conn.execute("COMMIT")  # nothing written: the end of the read

    # --- reads --------------------------------------------------------------------------

    def user_by_token_hash(self, token_hash: str) -> tuple[User, str, bool] | None:
        """(the user, its token's hash, whether it is disabled) for the token's hash."""
        with self.read() as conn:
            row = conn.execute(
                "SELECT id, name, role, area, token_hash, disabled FROM users WHERE token_hash = ?",
                [token_hash],
            ).fetchone()
        return (User(*row[:4]), row[4], bool(row[5])) if row else None

    def users(self) -> list[User]:
        with self.read() as conn:
            rows = conn.execute("SELECT id, name, role, area FROM users ORDER BY id").fetchall()
        return [User(*r) for r in rows]

    def user_rows(self, *, user_id: int | None = None) -> list[UserRow]:
        """Every user, by id; or only the one with `user_id`."""
        sql = "SELECT id, name, role, area, created_at, disabled FROM users"
        args: list[Any]
        if user_id is not None:
            sql, args = sql + " WHERE id = ?", [user_id]
        else:
            args = []
        with self.read() as conn:
            rows = conn.execute(sql + " ORDER BY id", args).fetchall()
        return [UserRow(r[0], r[1], r[2], r[3], r[4], bool(r[5])) for r in rows]

    def last_change_seq(self) -> int:
        """The change sequence of the latest change to any record (0 before the first)."""
        with self.read() as conn:
            row = conn.execute("SELECT coalesce(max(change_seq), 0) FROM records").fetchone()
            return int(row[0])

    def form_count(self) -> int:
        with self.read() as conn:
            return int(conn.execute("SELECT count(*) FROM forms").fetchone()[0])

    def form_versions(self) -> list[tuple[str, int, str, str]]:
        """(form_id, version, sha256, definition JSON) of every published version."""
        with self.read() as conn:
            return conn.execute(
                "SELECT form_id, version, sha256, definition FROM forms ORDER BY form_id, version"
            ).fetchall()

    def submissions_of(self, record_ids: Sequence[str]) -> dict[str, list[SubmissionRow]]:
        with self.read() as conn:
            return _submissions_of(conn, record_ids)

    def record(self, record_id: str) -> RecordRow | None:
        with self.read() as conn:
            row = conn.execute(
                "SELECT record_id, form_id, area, change_seq, has_conflicts, doc FROM records "
                "WHERE record_id = ?",
                [record_id],
            ).fetchone()
        return RecordRow(*row) if row else None

    def records_page(
        self,
        *,
        area: str,
        since: int,
        limit: int,
        form_ids: Sequence[str] | None = None,
        conflicts_only: bool = False,
        below: bool = True,
        max_bytes: int | None = PAGE_BYTES,
    ) -> tuple[list[RecordRow], bool]:
        """Records in `area` (and below it, unless not `below`) changed after `since`, oldest
        change first, and whether more come after them: `limit` of them at most, and none
        after those whose documents hold `max_bytes` (one at least, however large). A field
        with no length limit holds 100,000 characters: a thousand such records were
        gigabytes read at once, so the reading stops there too.

        Two ways, by how many changes of the area come after `since`. Few (a phone of a quiet
        commune, a province with little data): the area's own, by `records_area_seq`, sorted,
        whatever the rest of the country changed. Many: every change in order, by the
        change_seq index, keeping the area's, which finds a page in few steps where the area
        holds much of what changed; sorting those would cost a page all of them."""

        def matching(column: str) -> str:
            where = _area_clause(column, area)[0] if below else f"{column} = ?"
            if form_ids is not None:
                where += f" AND form_id IN ({','.join('?' * len(form_ids))})"
            return f"change_seq > ? AND {where}" + " AND has_conflicts = 1" * conflicts_only

        params = _area_clause("area", area)[1] if below else [area]
        args = [since, *params, *(form_ids or ()), limit + 1]  # one past: is there more?
        columns = "record_id, form_id, area, change_seq, has_conflicts, doc"
        with self.read() as conn:
            if not below or (area != "" and self._area_is_quicker(conn, since, area)):
                sql = (
                    f"SELECT {columns} FROM records WHERE rowid IN (SELECT rowid FROM records "
                    f"INDEXED BY records_area_seq WHERE {matching('area')} ORDER BY change_seq "
                    "LIMIT ?) ORDER BY change_seq"
                )
            else:  # `+area`: never by the area's index, which would sort all the area's rows
                sql = f"SELECT {columns} FROM records WHERE {matching('+area')} "
                sql += "ORDER BY change_seq LIMIT ?"
            page, more = _page_of(conn.execute(sql, args), limit, max_bytes, lambda r: len(r[5]))
            return [RecordRow(*r) for r in page], more

    @staticmethod
    def _area_is_quicker(conn: sqlite3.Connection, since: int, area: str) -> bool:
        """Whether the page of `area` and below it after `since` is quicker read from the
        area's index: when many changes came after `since` (else walking them all is quick:
        there are at most the latest change's number less `since`) and few of them, fewer
        than FEW_CHANGES, are the area's. That count reads the area's index entries (before
        `since` too, up to FEW_CHANGES after it), so it runs only when there were many."""
        latest = conn.execute("SELECT coalesce(max(change_seq), 0) FROM records").fetchone()[0]
        if latest - since < FEW_CHANGES:
            return False
        where, params = _area_clause("area", area)
        sql = (
            "SELECT count(*) FROM (SELECT 1 FROM records INDEXED BY records_area_seq "
            f"WHERE change_seq > ? AND {where} LIMIT {FEW_CHANGES})"
        )
        return int(conn.execute(sql, [since, *params]).fetchone()[0]) < FEW_CHANGES

    def iter_records(
        self, form_id: str, area: str, since: int = 0, batch: int = 1000
    ) -> Iterator[RecordRow]:
        """Every record of a form in an area changed after `since`, in change order, a page
        at a time (of `batch` records, or fewer that hold PAGE_BYTES). A record changed while
        this runs comes again, newer, later."""
        while True:
            page, more = self.records_page(area=area, since=since, limit=batch, form_ids=[form_id])
            yield from page
            if not more:
                return
            since = page[-1].change_seq

    def meta(self, key: str) -> str | None:
        with self.read() as conn:
            row = conn.execute("SELECT value FROM meta WHERE key = ?", [key]).fetchone()
        return None if row is None else str(row[0])

    def derive_rules(self) -> int:
        """The rules (store_schema.DERIVE_RULES) every record's state was derived under."""
        rules = self.meta("derive_rules")
        return int(rules) if rules is not None else 1

    def record_ids_after(self, after: str, limit: int) -> list[str]:
        """Ids of every record, in order, past `after`: `limit` of them."""
        with self.read() as conn:
            return [
                r[0]
                for r in conn.execute(
                    "SELECT record_id FROM records WHERE record_id > ? ORDER BY record_id LIMIT ?",
                    [after, limit],
                )
            ]

    def records_derived_before(
        self, form_id: str, version: int, after: str, limit: int
    ) -> list[str]:
        """Ids (in order, past `after`) of records of `form_id` whose state was derived under
        a version before `version`. A read: the scan (every record of the form, at a start)
        holds no writer back."""
        with self.read() as conn:
            return [
                r[0]
                for r in conn.execute(
                    "SELECT record_id FROM records WHERE form_id = ? AND record_id > ? "
                    "AND json_extract(doc, '$.form_version') < ? ORDER BY record_id LIMIT ?",
                    [form_id, after, version, limit],
                )
            ]

    def count_records(self, form_id: str, area: str) -> int:
        where, params = _area_clause("area", area)
        with self.read() as conn:
            sql = f"SELECT count(*) FROM records WHERE form_id = ? AND {where}"
            return int(conn.execute(sql, [form_id, *params]).fetchone()[0])

    def audit_page(
        self, since: int, limit: int, max_bytes: int | None = None, area: str = ""
    ) -> tuple[list[tuple[Any, ...]], bool]:
        """The log's entries after `since`: `limit` of them at most, and no more once their
        details hold `max_bytes` (a push of 1000 refused items makes an entry of up to 700 KB:
        1000 such entries were a 700 MB answer); whether there are more. With `area`, only
        the entries of users of that area and below (an admin bound to a province)."""
        where = "a.seq > ?"
        params: list[Any] = [since]
        if area:
            where += " AND (u.area = ? OR substr(u.area, 1, ?) = ?)"
            params += [area, len(area) + 1, f"{area}."]
        with self.read() as conn:
            rows = conn.execute(
                "SELECT a.seq, a.at, u.name, a.user_id, a.device_id, a.action, a.target, a.detail "
                f"FROM audit a LEFT JOIN users u ON u.id = a.user_id WHERE {where} "
                "ORDER BY a.seq LIMIT ?",
                [*params, limit + 1],
            )
            return _page_of(rows, limit, max_bytes, lambda r: len(r[7]))

    def user_names(self, ids: Iterable[int]) -> dict[int, str]:
        with self.read() as conn:
            return dict(
                _select_in(conn, "SELECT id, name FROM users WHERE id IN ({marks})", set(ids))
            )

    def backup(self, target: str | Path) -> None:
        """A consistent copy of the whole database, taken while others keep writing (SQLite's
        online backup API, in one step: one read snapshot). The copy is in rollback-journal
        mode, not WAL: a WAL file cannot be read where its `-shm` cannot be made (a read-only
        USB stick or share, a folder of another user), and a backup is read from such places.

        The copy has an identity of its own: served as it is (`coso serve --db COPY`, not
        `coso restore`), it answers the cursors clients took from this database, past what
        it holds, with `reset_required`, instead of going on from them and reusing change
        numbers they have seen (they would never get those changes).

        Raises sqlite3.DatabaseError ("malformed") when the copy fails SQLite's quick check."""
        dest = sqlite3.connect(str(target))
        try:
            with self.read() as conn:
                conn.backup(dest)
            # a damaged database copied is a damaged backup, found out only at restore, after
            # a nightly rotation has replaced every good one (found by a probe)
            verdict = dest.execute("PRAGMA quick_check").fetchone()[0]
            if verdict != "ok":
                raise sqlite3.DatabaseError(f"database disk image is malformed: {verdict}")
            dest.execute("UPDATE meta SET value = ? WHERE key = 'db_id'", [str(uuid.uuid4())])
            dest.commit()
            dest.execute("PRAGMA journal_mode = DELETE")
        finally:
            dest.close()

    def found_damaged(self, exc: BaseException, during: str) -> None:
        """Damaged pages met `during` something (a request, an export, records derived anew):
        one line for the operator, and /healthz says so from now on."""
        self.damaged = str(exc)
        logging.getLogger("coso").error(
            "DATABASE DAMAGED / CƠ SỞ DỮ LIỆU BỊ HỎNG: %s: %s: stop the server, keep the file"
            " aside, and restore the latest good backup (coso restore)",
            during,
            exc,
        )

    def integrity_check(self) -> str:
        with self.read() as conn:
            return str(conn.execute("PRAGMA integrity_check").fetchone()[0])


def _open_backup(backup: str | Path) -> sqlite3.Connection:
    """`backup` opened read-only. A WAL-mode file (the backups of coso before 2026-11-27 are)
    cannot be read where SQLite cannot make its `-shm` (a read-only medium, another user's
    folder): such a file is opened `immutable` instead, as a backup does not change."""
    # as_uri() escapes what a URI would misread in a file name ("#", "?", "%")
    uri = Path(backup).resolve().as_uri()
    source = sqlite3.connect(uri + "?mode=ro", uri=True)
    try:
        source.execute("PRAGMA user_version").fetchone()
    except sqlite3.OperationalError:  # "attempt to write a readonly database", "unable to open"
        wal = Path(f"{backup}-wal")
        if wal.exists() and wal.stat().st_size:  # immutable would not read what it holds
            return source  # refused by restore(), with SQLite's reason
        source.close()
        return sqlite3.connect(uri + "?mode=ro&immutable=1", uri=True)
    except sqlite3.DatabaseError:  # not a database: said by restore()
        pass
    return source


def restore(backup: str | Path, target: str | Path) -> tuple[str, UsersKept]:
    """Put `backup` in place of the database at `target` and give it a new identity, so that
    cursors handed out before (by either database) get `reset_required`, keeping the users
    of the one it replaces (`_keep_users`). Returns the new id and the users kept.
    Raises ValueError, with `target` untouched, for a backup that is not a whole coso database
    (not SQLite, damaged, empty, another program's, from a newer coso). The server must be
    stopped while this runs (`coso restore` makes sure of it)."""
    source = _open_backup(backup)
    try:
        try:
            verdict = source.execute("PRAGMA integrity_check").fetchone()[0]
            version = source.execute("PRAGMA user_version").fetchone()[0]
            tables = {
                name
                for (name,) in source.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            }
        except sqlite3.DatabaseError as exc:
            raise ValueError(
                f"{backup} is not a SQLite database ({exc}) / không phải cơ sở dữ liệu SQLite"
            ) from exc
        if verdict != "ok":
            raise ValueError(f"{backup} fails its integrity check: {verdict} / tệp sao lưu bị hỏng")
        if version == 0 or not COSO_TABLES.issubset(tables):  # 0: empty, or not ours
            raise ValueError(f"{backup} is not a coso database / không phải cơ sở dữ liệu coso")
        if version > len(MIGRATIONS):
            raise ValueError(
                f"{backup} comes from a newer coso (schema {version}); upgrade coso first"
                " / tệp sao lưu từ phiên bản coso mới hơn, hãy nâng cấp coso trước"
            )
        return _swap_in(source, Path(target))
    finally:
        source.close()


@dataclass
class UsersKept:
    """The users of the database a restore replaced, kept over the backup's (names)."""

    disabled: list[str] = field(default_factory=list)
    enabled: list[str] = field(default_factory=list)
    added: list[str] = field(default_factory=list)
    new_token: list[str] = field(default_factory=list)  # given since: the backup's is refused


_USER_COLUMNS = "id, name, role, area, token_hash, created_at, disabled"


def _keep_users(replaced: Path, dest: sqlite3.Connection) -> UsersKept:
    """Keep in `dest` (a backup being restored) the users of the database it replaces: who
    may sign in is now's, not the backup's. A token disabled after the backup (a lost phone,
    a leaked link) must not sign in again, a token replaced since (`users new-token`) neither,
    its new one must, and an officer added since keeps working. Users are never deleted and
    their ids only grow, so the one of an id with the same token, or with the same name and
    the same time of creation, is the same user; another database's users are left out.
    Written to `dest`'s audit log."""
    with contextlib.closing(sqlite3.connect(str(replaced))) as old:
        try:
            now = old.execute(f"SELECT {_USER_COLUMNS} FROM users ORDER BY id").fetchall()
        except sqlite3.DatabaseError:  # not a coso database: nothing to keep
            return UsersKept()
    before = {r[0]: r for r in dest.execute(f"SELECT {_USER_COLUMNS} FROM users")}
    tokens = {r[4] for r in before.values()}
    kept = UsersKept()
    for row in now:
        had = before.get(row[0])
        if had is None and row[4] not in tokens:
            dest.execute(f"INSERT INTO users ({_USER_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)", row)
            kept.added.append(row[1])
            continue
        if had is None or (had[4] != row[4] and (had[1], had[5]) != (row[1], row[5])):
            continue  # another database's user
        if had[4] != row[4]:
            dest.execute("UPDATE users SET token_hash = ? WHERE id = ?", [row[4], row[0]])
            kept.new_token.append(row[1])
        if had[6] != row[6]:
            dest.execute("UPDATE users SET disabled = ? WHERE id = ?", [row[6], row[0]])
            (kept.disabled if row[6] else kept.enabled).append(row[1])
    if kept.added or kept.disabled or kept.enabled or kept.new_token:
        detail = json.dumps(dataclasses.asdict(kept), ensure_ascii=False)
        Writer(dest).audit(now_iso(), None, None, "restore.users_kept", None, detail)
    return kept


def restore_scratch(target: Path) -> list[Path]:
    """The working copy a restore over `target` makes beside it, and that copy's journals:
    removed before and after the copy."""
    real = target.resolve() if target.exists() else target.absolute()
    part = real.with_name(real.name + ".restoring")
    return [Path(f"{part}{end}") for end in ("", "-wal", "-shm", "-journal")]


def _swap_in(source: sqlite3.Connection, target: Path) -> tuple[str, UsersKept]:
    """Copy `source` beside `target`, give the copy a new identity, then rename it over
    `target`: a restore stopped at any moment (killed) leaves the old database whole or the
    new one whole with its new identity, never the new data under the old identity. Returns
    the new id."""
    real = target.resolve() if target.exists() else target.absolute()
    if real.exists():
        with contextlib.closing(sqlite3.connect(str(real))) as existing:
            try:
                version = existing.execute("PRAGMA user_version").fetchone()[0]
                if version <= len(MIGRATIONS):
                    # its WAL folded in and emptied: nothing of it applies to the file put in
                    # its place, and the old database stays whole until the rename
                    existing.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
            except sqlite3.DatabaseError as exc:  # not overwritten: it may not be a database
                raise ValueError(
                    f"{target} is not a SQLite database ({exc}); move it aside and restore again"
                    " / không phải cơ sở dữ liệu SQLite: hãy chuyển tệp đi rồi khôi phục lại"
                ) from exc
        if version > len(MIGRATIONS):  # never put an older coso's copy over a newer one's data
            raise ValueError(
                f"{target} comes from a newer coso (schema {version}, this one knows"
                f" {len(MIGRATIONS)}): upgrade coso first, or move it aside and restore again"
                " / cơ sở dữ liệu của phiên bản coso mới hơn: hãy nâng cấp coso trước"
            )
    beside = restore_scratch(real)
    part = beside[0]
    for leftover in beside:  # a restore killed before
        leftover.unlink(missing_ok=True)
    try:
        with contextlib.closing(sqlite3.connect(str(part))) as dest:
            source.backup(dest)
            new_id = str(uuid.uuid4())
            dest.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('db_id', ?)", [new_id])
            kept = _keep_users(real, dest) if real.exists() else UsersKept()
            dest.commit()
            dest.execute("PRAGMA journal_mode = DELETE")  # one file, nothing beside it
        if real.exists():  # the service's user must open it as before (a restore run as root)
            shutil.copymode(real, part)
            owner = real.stat()
            with contextlib.suppress(PermissionError):
                os.chown(part, owner.st_uid, owner.st_gid)
        with open(part, "rb") as f:
            os.fsync(f.fileno())
        for end in ("-wal", "-shm"):  # the old database's, empty since the checkpoint
            Path(f"{real}{end}").unlink(missing_ok=True)
        os.replace(part, real)
        directory = os.open(real.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
    finally:
        for leftover in beside:
            leftover.unlink(missing_ok=True)
    return new_id, kept
