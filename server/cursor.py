"""Opaque pull cursors that name the database and the list they came from.

A cursor is `base64url(kind + ":" + db_id + ":" + seq)`: kind `c1` for the change sequence
(/records, /conflicts, /sync/pull), `a1` for the audit log, whose numbers count something
else (one of the other list's would skip or replay entries). A cursor of another database
(one restored from a backup, say) is refused with 409 `reset_required`; one of the other
list, or garbage, is a 400 `bad_cursor` at `since`.
"""

from __future__ import annotations

import base64
import binascii
from typing import TYPE_CHECKING

from server.errors import ApiError, Malformed
from server.protocol import FieldError

if TYPE_CHECKING:
    from server.store import Store


CHANGES, AUDIT = "c1", "a1"


def make(db_id: str, seq: int, kind: str = CHANGES) -> str:
    return base64.urlsafe_b64encode(f"{kind}:{db_id}:{seq}".encode()).decode().rstrip("=")


def _bad(message: str) -> Malformed:
    return Malformed(
        message, code="bad_cursor", errors=[FieldError("since", "bad_cursor", message)]
    )


def read(db_id: str, cursor: str | None, kind: str = CHANGES) -> int:
    """The sequence number a cursor of list `kind` stands for; 0 for no cursor (from the
    start)."""
    if not cursor:
        return 0
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        tag, cursor_db, seq = text.split(":")
        # as made: ASCII digits only (int() takes "+1", " 1", "1_0" and other scripts' digits)
        if not (seq.isascii() and seq.isdigit()) or tag not in (CHANGES, AUDIT):
            raise ValueError(text)
        value = int(seq)
        if not 0 <= value < 2**63:  # past SQLite's INTEGER: not ours
            raise ValueError(text)
        if make(cursor_db, value, tag) != cursor:  # "01", padding, another base64 spelling
            raise ValueError(text)
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise _bad("this cursor is not one of ours") from exc
    if tag != kind and kind == AUDIT:
        # the records' kind, or the audit log's own from a coso before the kinds, which
        # tagged both c1: read the log again from the start (its entries are never lost)
        raise ApiError(
            "this cursor is not the audit log's (or comes from an older coso): read the log"
            " again from the start",
            code="reset_required",
            status=409,
        )
    if tag != kind:
        raise _bad(
            "this cursor belongs to another list (the audit log's and the records' count"
            " different things): use the one this list gave"
        )
    if cursor_db != db_id:
        raise ApiError(
            "this cursor comes from another database: pull again from the start",
            code="reset_required",
            status=409,
        )
    return value


def start(store: Store, cursor: str | None) -> int:
    """`read`, and 409 `reset_required` for a cursor past the database's latest change (one
    this database never gave: a client that kept it would miss the changes up to there)."""
    value = read(store.db_id, cursor)
    if value and value > store.last_change_seq():
        raise ApiError(
            "this cursor is ahead of this database: pull again from the start",
            code="reset_required",
            status=409,
        )
    return value
