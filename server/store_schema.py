"""The store's schema: the numbered steps that create and upgrade its tables (`MIGRATIONS`,
tracked in `PRAGMA user_version`), and the rows read from and written to them, as dataclasses.
One of the store's modules (store.py, store_schema.py, store_write.py), the only ones with SQL.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

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
    # merged without reading the record's history (see derive.rebuild).
    """
    ALTER TABLE records ADD COLUMN pending INTEGER;
    """,
    # 3: the records of an area in change order, with what a page filters on: a phone of a
    # quiet commune (or a supervisor of a province with few records) reads its own records
    # after its cursor, not every change in the country since (store.records_page)
    """
    CREATE INDEX records_area_seq ON records (area, change_seq, form_id, has_conflicts);
    """,
    # 4: the time the latest submissions were received at, which the next write's time must
    # come after (store_write.Writer.received_now): a database an older coso wrote starts
    # from its latest one, whatever the clock says now
    """
    INSERT OR IGNORE INTO meta (key, value)
        SELECT 'received_at', latest FROM (SELECT max(received_at) AS latest FROM submissions)
        WHERE latest IS NOT NULL;
    """,
]
# Bumped whenever what a record's state is made of changes (the merge rules, the one spelling
# a value is kept in): records an older coso derived are derived anew when the server starts
# (catalog.Catalog.finish_rederive), as after a renaming publish. Kept in meta `derive_rules`;
# a database made before it was kept is at 1.
# 3: a null inside a repeat item is no value in forms with no select_multiple too (2 read it
# so only where the form had one: an older coso's null left a conflict)
DERIVE_RULES = 3

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


@dataclass(slots=True)
class SubmissionRow:
    """A submission as stored: every column of `submissions`, JSON columns as text. Not
    frozen: a push sets `received_at` once it has the write lock (Writer.received_now)."""

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


@dataclass(frozen=True, slots=True)
class RecordRow:
    record_id: str
    form_id: str
    area: str
    change_seq: int
    has_conflicts: int
    doc: str
    pending: int | None = None
