"""The statements of a write transaction: `Writer`, what `Store.write()` hands out, and the
helpers that read many ids at once (which the store's reads share). One of the store's modules
(store.py, store_schema.py, store_write.py), the only ones with SQL.
"""

from __future__ import annotations

import operator
import sqlite3
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import msgspec

from server.store_schema import SUBMISSION_COLUMNS, RecordRow, SubmissionRow

_MILLISECOND = timedelta(milliseconds=1)
_submission_values = operator.attrgetter(*SUBMISSION_COLUMNS)  # row -> tuple in column order


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

    def received_now(self, now: str) -> str:
        """The time submissions stored now are received at: `now` (`now_iso()`, taken under
        the write lock), or just after the last one given if that is not earlier, so that it
        grows from each write to the next, whatever the clock does (two writes in one
        millisecond, a clock set back). Pending edits stored before their record's root are
        told from those checked with it or after it by it (derive.rebuild): a time taken
        before waiting for the lock had let an edit stored first carry the later time."""
        last = self.conn.execute("SELECT value FROM meta WHERE key = 'received_at'").fetchone()
        if last is not None and now <= last[0]:
            after = datetime.fromisoformat(last[0].replace("Z", "+00:00")) + _MILLISECOND
            now = after.isoformat(timespec="milliseconds").replace("+00:00", "Z")
        self.conn.execute(
            "INSERT OR REPLACE INTO meta (key, value) VALUES ('received_at', ?)", [now]
        )
        return now

    def next_change_seq(self) -> int:
        if self._seq is None:
            self._seq = self.conn.execute(
                "SELECT coalesce(max(change_seq), 0) FROM records"
            ).fetchone()[0]
        self._seq += 1
        return self._seq

    def resequence(self, form_id: str) -> None:
        """Every record of `form_id` changed in the pull's eyes: new change sequence values
        past every one given so far, in the order they had (shifted by one amount, so no
        value is taken twice at any moment of the update)."""
        top, low = self.conn.execute(
            "SELECT (SELECT max(change_seq) FROM records), "
            "(SELECT min(change_seq) FROM records WHERE form_id = ?)",
            [form_id],
        ).fetchone()
        if low is None:
            return
        self.conn.execute(
            "UPDATE records SET change_seq = change_seq + ? WHERE form_id = ?",
            [top - low + 1, form_id],
        )
        self._seq = None

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

    def submission_rows(self, ids: Sequence[str]) -> dict[str, SubmissionRow]:
        """id -> the stored submission, for the ids stored."""
        sql = f"SELECT {', '.join(SUBMISSION_COLUMNS)} FROM submissions WHERE id IN ({{marks}})"
        return {r[0]: SubmissionRow(*r) for r in _select_in(self.conn, sql, ids)}

    def user_roles(self, user_ids: Sequence[int]) -> dict[int, str]:
        """user id -> role, for the users that exist."""
        sql = "SELECT id, role FROM users WHERE id IN ({marks})"
        return dict(_select_in(self.conn, sql, user_ids))

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

    def set_docs(self, docs: Sequence[tuple[str, str]]) -> None:
        """A record's document rewritten where its state is the same (the version it was
        derived under): its change sequence value stays."""
        self.conn.executemany(
            "UPDATE records SET doc = ? WHERE record_id = ?", [(d, rid) for rid, d in docs]
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

    def form_sha(self, form_id: str, version: int) -> str:
        row = self.conn.execute(
            "SELECT sha256 FROM forms WHERE form_id = ? AND version = ?", [form_id, version]
        ).fetchone()
        return str(row[0])

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

    def set_user_token(self, user_id: int, token_hash: str) -> None:
        self.conn.execute("UPDATE users SET token_hash = ? WHERE id = ?", [token_hash, user_id])

    def audit(
        self,
        at: str,
        user_id: int | None,
        device_id: str | None,
        action: str,
        target: str | None,
        detail: str,
    ) -> None:
        if device_id is None:
            # no device: the `coso` command on the server (no user either), or an action over
            # the API that no device made (an admin's publish)
            device_id = "cli" if user_id is None else "api"
        self.conn.execute(
            "INSERT INTO audit (at, user_id, device_id, action, target, detail) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            [at, user_id, device_id, action, target, detail],
        )

    def set_derive_rules(self, rules: int) -> None:
        self.set_meta("derive_rules", str(rules))

    def set_meta(self, key: str, value: str | None) -> None:
        """`key` set to `value` in the database's own settings; None: removed."""
        if value is None:
            self.conn.execute("DELETE FROM meta WHERE key = ?", [key])
        else:
            self.conn.execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", [key, value]
            )

    def set_db_id(self, db_id: str) -> None:
        self.conn.execute("UPDATE meta SET value = ? WHERE key = 'db_id'", [db_id])
