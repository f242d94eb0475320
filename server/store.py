"""The store: the only module with SQL. SQLite through sqlite-utils, one write path.

Writes go through `Store.write()`: one writer connection behind a lock, `BEGIN IMMEDIATE`,
committed with `synchronous=FULL` (so a returned call is durable). Reads use a connection per
thread (WAL lets them run beside the writer). The schema is created and upgraded by the
numbered steps in `MIGRATIONS`, tracked in `PRAGMA user_version`. Another backend
(PostgreSQL) would implement the same methods.
"""

from __future__ import annotations

import contextlib
import operator
import re
import sqlite3
import threading
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec
from sqlite_utils import Database

from server import areas

MIGRATIONS: list[str] = [
    # 1: the first schema
    """
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE forms (
        form_id TEXT NOT NULL,
        version INTEGER NOT NULL,
        sha256 TEXT NOT NULL,
        definition TEXT NOT NULL,
        published_at TEXT NOT NULL,
        published_by TEXT,
        PRIMARY KEY (form_id, version)
    );
    CREATE TABLE users (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL,
        role TEXT NOT NULL CHECK (role IN ('officer', 'supervisor', 'admin')),
        area TEXT NOT NULL,
        token_hash TEXT NOT NULL UNIQUE,
        created_at TEXT NOT NULL,
        disabled INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE submissions (
        id TEXT PRIMARY KEY,
        record_id TEXT NOT NULL,
        form_id TEXT NOT NULL,
        form_version INTEGER NOT NULL,
        parents TEXT NOT NULL,
        captured_at TEXT NOT NULL,
        captured_ts REAL NOT NULL,
        data TEXT NOT NULL,
        resolves TEXT NOT NULL,
        device_id TEXT NOT NULL,
        user_id INTEGER NOT NULL REFERENCES users(id),
        area TEXT NOT NULL,
        received_at TEXT NOT NULL,
        skewed INTEGER NOT NULL,
        content_hash TEXT NOT NULL,
        note TEXT
    ) WITHOUT ROWID;
    CREATE INDEX submissions_record ON submissions (record_id);
    CREATE TABLE records (
        record_id TEXT PRIMARY KEY,
        form_id TEXT NOT NULL,
        area TEXT NOT NULL,
        change_seq INTEGER NOT NULL UNIQUE,
        has_conflicts INTEGER NOT NULL,
        doc TEXT NOT NULL
    );
    CREATE INDEX records_form_seq ON records (form_id, change_seq);
    CREATE TABLE audit (
        seq INTEGER PRIMARY KEY,
        at TEXT NOT NULL,
        user_id INTEGER,
        device_id TEXT,
        action TEXT NOT NULL,
        target TEXT,
        detail TEXT NOT NULL
    );
    """,
    # 2: how many stored submissions of a record take no part in its state (waiting for a
    # parent, or blocked); NULL = not known yet. 0 lets a new edit of the current heads be
    # merged without reading the record's history (see sync.rebuild).
    """
    ALTER TABLE records ADD COLUMN pending INTEGER;
    """,
]
# what a restore checks a backup for: the tables of the first schema (later steps add to them)
COSO_TABLES = frozenset(re.findall(r"CREATE TABLE (\w+)", MIGRATIONS[0]))


@dataclass(frozen=True, slots=True)
class User:
    id: int
    name: str
    role: str
    area: str


@dataclass(frozen=True, slots=True)
class UserRow:
    """A user as `coso users list` shows it."""

    id: int
    name: str
    role: str
    area: str
    created_at: str
    disabled: bool


@dataclass(frozen=True, slots=True)
class SubmissionRow:
    """A submission as stored: every column of `submissions`, JSON columns as text."""

    id: str
    record_id: str
    form_id: str
    form_version: int
    parents: str
    captured_at: str
    captured_ts: float
    data: str
    resolves: str
    device_id: str
    user_id: int
    area: str
    received_at: str
    skewed: int
    content_hash: str
    note: str | None = None


SUBMISSION_COLUMNS = tuple(SubmissionRow.__dataclass_fields__)
_submission_values = operator.attrgetter(*SUBMISSION_COLUMNS)  # row -> tuple in column order


@dataclass(frozen=True, slots=True)
class RecordRow:
    record_id: str
    form_id: str
    area: str
    change_seq: int
    has_conflicts: int
    doc: str
    pending: int | None = None


def _area_clause(column: str, area: str) -> tuple[str, list[str]]:
    """SQL matching `column` inside `area` (the area itself and everything below)."""
    if area == "":
        return "1", []
    prefix = areas.sql_prefix(area)
    return f"({column} = ? OR ({column} >= ? AND {column} < ?))", [area, prefix, area + "/"]


class Store:
    """A coso database. `Store(":memory:")` for tests, a file path for everything else."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self.memory = self.path == ":memory:"
        self._lock = threading.RLock()
        self._local = threading.local()
        if not self.memory:  # checked before _connect() turns WAL on in another program's file
            with contextlib.closing(sqlite3.connect(self.path)) as conn:
                version = conn.execute("PRAGMA user_version").fetchone()[0]
                tables = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
            if version == 0 and tables:  # never migrated by coso, yet it holds tables
                raise sqlite3.DatabaseError("it holds another program's tables, not coso's")
        self._writer = self._connect()
        try:
            self.db = Database(self._writer)
            with self._lock:
                self._migrate()
            self.db_id: str = self._writer.execute(
                "SELECT value FROM meta WHERE key = 'db_id'"
            ).fetchone()[0]
        except BaseException:
            self._writer.close()
            raise

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, check_same_thread=False, timeout=30)
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("PRAGMA busy_timeout = 30000")
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
        self._writer.commit()

    def close(self) -> None:
        with self._lock:
            self._writer.close()
        reader = getattr(self._local, "conn", None)
        if reader is not None:
            reader.close()

    # --- the one write path -------------------------------------------------------------

    @contextlib.contextmanager
    def write(self) -> Iterator[Writer]:
        """A write transaction: one at a time, BEGIN IMMEDIATE, durable once it returns."""
        with self._lock:
            conn = self._writer
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield Writer(conn)
            except BaseException:
                conn.rollback()
                raise
            conn.commit()

    @contextlib.contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        """A connection for reads: this thread's own, or the only one in memory."""
        if self.memory:
            with self._lock:
                yield self._writer
            return
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = self._connect()
        yield conn

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

    def user_rows(self, *, user_id: int | None = None, name: str | None = None) -> list[UserRow]:
        """Every user, by id; or only the one with `user_id`, or those named `name`."""
        sql = "SELECT id, name, role, area, created_at, disabled FROM users"
        args: list[Any]
        if user_id is not None:
            sql, args = sql + " WHERE id = ?", [user_id]
        elif name is not None:
            sql, args = sql + " WHERE name = ?", [name]
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
    ) -> list[RecordRow]:
        """Records in `area` changed after `since`, oldest change first."""
        where, params = _area_clause("area", area)
        sql = (
            "SELECT record_id, form_id, area, change_seq, has_conflicts, doc FROM records "
            f"WHERE change_seq > ? AND {where}"
        )
        args: list[Any] = [since, *params]
        if form_ids is not None:
            sql += f" AND form_id IN ({','.join('?' * len(form_ids))})"
            args += list(form_ids)
        if conflicts_only:
            sql += " AND has_conflicts = 1"
        sql += " ORDER BY change_seq LIMIT ?"
        args.append(limit)
        with self.read() as conn:
            return [RecordRow(*r) for r in conn.execute(sql, args)]

    def iter_records(self, form_id: str, area: str, batch: int = 1000) -> Iterator[RecordRow]:
        """Every record of a form in an area, in change order, a page at a time."""
        since = 0
        while True:
            page = self.records_page(area=area, since=since, limit=batch, form_ids=[form_id])
            yield from page
            if len(page) < batch:
                return
            since = page[-1].change_seq

    def count_records(self, form_id: str, area: str) -> int:
        where, params = _area_clause("area", area)
        with self.read() as conn:
            sql = f"SELECT count(*) FROM records WHERE form_id = ? AND {where}"
            return int(conn.execute(sql, [form_id, *params]).fetchone()[0])

    def audit_page(self, since: int, limit: int) -> list[tuple[Any, ...]]:
        with self.read() as conn:
            return conn.execute(
                "SELECT a.seq, a.at, u.name, a.user_id, a.device_id, a.action, a.target, a.detail "
                "FROM audit a LEFT JOIN users u ON u.id = a.user_id "
                "WHERE a.seq > ? ORDER BY a.seq LIMIT ?",
                [since, limit],
            ).fetchall()

    def user_names(self, ids: Iterable[int]) -> dict[int, str]:
        with self.read() as conn:
            return dict(
                _select_in(conn, "SELECT id, name FROM users WHERE id IN ({marks})", set(ids))
            )

    def backup(self, target: str | Path) -> None:
        """A consistent copy of the whole database, taken while others keep writing (SQLite's
        online backup API, in one step: one read snapshot)."""
        dest = sqlite3.connect(str(target))
        try:
            with self.read() as conn:
                conn.backup(dest)
        finally:
            dest.close()

    def integrity_check(self) -> str:
        with self.read() as conn:
            return str(conn.execute("PRAGMA integrity_check").fetchone()[0])


def restore(backup: str | Path, target: str | Path) -> str:
    """Put `backup` in place of the database at `target` and give it a new identity, so that
    cursors handed out before (by either database) get `reset_required`. Returns the new id.
    Raises ValueError, with `target` untouched, for a backup that is not a whole coso database
    (not SQLite, damaged, empty, another program's, from a newer coso). The server must be
    stopped while this runs (`coso restore` makes sure of it)."""
    # as_uri() escapes what a URI would misread in a file name ("#", "?", "%")
    source = sqlite3.connect(Path(backup).resolve().as_uri() + "?mode=ro", uri=True)
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
        dest = sqlite3.connect(str(target))
        try:
            try:
                dest.execute("PRAGMA user_version").fetchone()
            except sqlite3.DatabaseError as exc:  # not overwritten: it may not be a database
                raise ValueError(
                    f"{target} is not a SQLite database ({exc}); move it aside and restore again"
                    " / không phải cơ sở dữ liệu SQLite: hãy chuyển tệp đi rồi khôi phục lại"
                ) from exc
            source.backup(dest)
            new_id = str(uuid.uuid4())
            dest.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('db_id', ?)", [new_id])
            dest.commit()
        finally:
            dest.close()
    finally:
        source.close()
    return new_id


def _select_in(conn: sqlite3.Connection, sql: str, ids: Iterable[Any]) -> Iterator[Any]:
    """The rows of `sql`, whose `{marks}` stands for an IN list, for every id: 500 ids a
    statement, under SQLite's limit on parameters."""
    ids = list(ids)
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        yield from conn.execute(sql.format(marks=",".join("?" * len(chunk))), chunk)


def _submissions_of(
    conn: sqlite3.Connection, record_ids: Sequence[str]
) -> dict[str, list[SubmissionRow]]:
    out: dict[str, list[SubmissionRow]] = {rid: [] for rid in record_ids}
    sql = f"SELECT {', '.join(SUBMISSION_COLUMNS)} FROM submissions WHERE record_id IN ({{marks}})"
    for row in _select_in(conn, sql, record_ids):
        out[row[1]].append(SubmissionRow(*row))
    return out


class Writer:
    """What may be done inside one write transaction."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self._seq: int | None = None

    def next_change_seq(self) -> int:
        if self._seq is None:
            self._seq = self.conn.execute(
                "SELECT coalesce(max(change_seq), 0) FROM records"
            ).fetchone()[0]
        self._seq += 1
        return self._seq

    def content_hashes(self, ids: Sequence[str]) -> dict[str, tuple[str, str]]:
        """id -> (content_hash, record_id) for the ids already stored."""
        sql = "SELECT id, content_hash, record_id FROM submissions WHERE id IN ({marks})"
        return {r[0]: (r[1], r[2]) for r in _select_in(self.conn, sql, ids)}

    def record_heads(self, record_ids: Sequence[str]) -> dict[str, tuple[str, str]]:
        """record_id -> (form_id, area) of the records that exist."""
        sql = "SELECT record_id, form_id, area FROM records WHERE record_id IN ({marks})"
        return {r[0]: (r[1], r[2]) for r in _select_in(self.conn, sql, record_ids)}

    def waiting_parents(self, record_ids: Sequence[str]) -> dict[str, dict[str, list[str]]]:
        """record_id -> {id: parents} of the stored submissions of those records that have
        some waiting (`pending` not 0 or not known, or no state yet): in a record whose every
        submission is merged, none names a submission that is not stored."""
        sql = "SELECT record_id FROM records WHERE record_id IN ({marks}) AND pending = 0"
        settled = {r[0] for r in _select_in(self.conn, sql, record_ids)}
        out: dict[str, dict[str, list[str]]] = {}
        sql = "SELECT record_id, id, parents FROM submissions WHERE record_id IN ({marks})"
        for rid, sid, parents in _select_in(
            self.conn, sql, [r for r in record_ids if r not in settled]
        ):
            out.setdefault(rid, {})[sid] = msgspec.json.decode(parents)
        return out

    def submission_counts(self, record_ids: Sequence[str]) -> dict[str, int]:
        """record_id -> how many submissions are stored, for the records that have any."""
        sql = (
            "SELECT record_id, count(*) FROM submissions WHERE record_id IN ({marks}) "
            "GROUP BY record_id"
        )
        return dict(_select_in(self.conn, sql, record_ids))

    def insert_submissions(self, rows: Sequence[SubmissionRow]) -> None:
        placeholders = ",".join("?" * len(SUBMISSION_COLUMNS))
        self.conn.executemany(
            f"INSERT INTO submissions ({', '.join(SUBMISSION_COLUMNS)}) VALUES ({placeholders})",
            [_submission_values(r) for r in rows],
        )

    def submissions_of(self, record_ids: Sequence[str]) -> dict[str, list[SubmissionRow]]:
        return _submissions_of(self.conn, record_ids)

    def records_docs(self, record_ids: Sequence[str]) -> dict[str, str]:
        sql = "SELECT record_id, doc FROM records WHERE record_id IN ({marks})"
        return dict(_select_in(self.conn, sql, record_ids))

    def records_derived_before(
        self, form_id: str, version: int, after: str, limit: int
    ) -> list[str]:
        """Ids (in order, past `after`) of records of `form_id` whose state was derived under
        a version before `version`."""
        return [
            r[0]
            for r in self.conn.execute(
                "SELECT record_id FROM records WHERE form_id = ? AND record_id > ? "
                "AND json_extract(doc, '$.form_version') < ? ORDER BY record_id LIMIT ?",
                [form_id, after, version, limit],
            )
        ]

    def upsert_records(self, rows: Sequence[RecordRow]) -> None:
        self.conn.executemany(
            "INSERT INTO records (record_id, form_id, area, change_seq, has_conflicts, doc, "
            "pending) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (record_id) DO UPDATE SET "
            "form_id = excluded.form_id, area = excluded.area, change_seq = excluded.change_seq, "
            "has_conflicts = excluded.has_conflicts, doc = excluded.doc, "
            "pending = excluded.pending",
            [
                (r.record_id, r.form_id, r.area, r.change_seq, r.has_conflicts, r.doc, r.pending)
                for r in rows
            ],
        )

    def set_pending(self, counts: Mapping[str, int]) -> None:
        """Record how many submissions wait, where the state itself did not change."""
        self.conn.executemany(
            "UPDATE records SET pending = ? WHERE record_id = ?",
            [(n, rid) for rid, n in counts.items()],
        )

    def records_with_pending(self, record_ids: Sequence[str]) -> dict[str, tuple[str, int | None]]:
        """record_id -> (doc, pending) of the records that exist."""
        sql = "SELECT record_id, doc, pending FROM records WHERE record_id IN ({marks})"
        return {r[0]: (r[1], r[2]) for r in _select_in(self.conn, sql, record_ids)}

    def latest_version(self, form_id: str) -> tuple[int, str, str] | None:
        row: tuple[int, str, str] | None = self.conn.execute(
            "SELECT version, sha256, definition FROM forms WHERE form_id = ? "
            "ORDER BY version DESC LIMIT 1",
            [form_id],
        ).fetchone()
        return row

    def version_with_sha(self, form_id: str, sha: str) -> int | None:
        row = self.conn.execute(
            "SELECT version FROM forms WHERE form_id = ? AND sha256 = ? ORDER BY version DESC",
            [form_id, sha],
        ).fetchone()
        return row[0] if row else None

    def form_definitions(self, form_id: str) -> list[str]:
        return [
            r[0]
            for r in self.conn.execute(
                "SELECT definition FROM forms WHERE form_id = ? ORDER BY version", [form_id]
            )
        ]

    def insert_form(
        self, form_id: str, version: int, sha: str, definition: str, at: str, by: str | None
    ) -> None:
        self.conn.execute(
            "INSERT INTO forms (form_id, version, sha256, definition, published_at, published_by) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            [form_id, version, sha, definition, at, by],
        )

    def add_user(self, name: str, role: str, area: str, token_hash: str, at: str) -> int:
        cur = self.conn.execute(
            "INSERT INTO users (name, role, area, token_hash, created_at) VALUES (?, ?, ?, ?, ?)",
            [name, role, area, token_hash, at],
        )
        return int(cur.lastrowid or 0)

    def set_user_disabled(self, user_id: int, disabled: bool) -> bool:
        """Disable or enable a user; False when it already was (nothing written)."""
        cur = self.conn.execute(
            "UPDATE users SET disabled = ? WHERE id = ? AND disabled != ?",
            [int(disabled), user_id, int(disabled)],
        )
        return cur.rowcount == 1

    def audit(
        self,
        at: str,
        user_id: int | None,
        device_id: str | None,
        action: str,
        target: str | None,
        detail: str,
    ) -> None:
        if user_id is None and device_id is None:  # no user: the `coso` command on the server
            device_id = "cli"
        self.conn.execute(
            "INSERT INTO audit (at, user_id, device_id, action, target, detail) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            [at, user_id, device_id, action, target, detail],
        )

    def set_db_id(self, db_id: str) -> None:
        self.conn.execute("UPDATE meta SET value = ? WHERE key = 'db_id'", [db_id])
