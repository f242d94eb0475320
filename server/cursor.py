"""Opaque pull cursors that name the database they came from.

A cursor is `base64url("c1:" + db_id + ":" + seq)`. A cursor of another database (one
restored from a backup, say) is refused with 409 `reset_required`; garbage is a 400.
"""

from __future__ import annotations

import base64
import binascii
from typing import TYPE_CHECKING

from server.errors import ApiError, Malformed

if TYPE_CHECKING:
    from server.store import Store


def make(db_id: str, seq: int) -> str:
    return base64.urlsafe_b64encode(f"c1:{db_id}:{seq}".encode()).decode().rstrip("=")


def read(db_id: str, cursor: str | None) -> int:
    """The change sequence a cursor stands for; 0 for no cursor (from the start)."""
    if not cursor:
        return 0
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        tag, cursor_db, seq = text.split(":")
        value = int(seq)
        if tag != "c1" or not 0 <= value < 2**63:  # past SQLite's INTEGER: not ours
            raise ValueError(text)
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise Malformed("this cursor is not one of ours", code="bad_cursor") from exc
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
