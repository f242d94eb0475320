"""Which pending edits were checked against their record's area is told by the order the
server stored them in, never by a clock read before waiting for the write lock: an edit of
a province officer stored while the commune's record was unknown must never merge into it,
whatever the clock says (two pushes in one millisecond, a clock set back, a push whose time
was taken before another's that got the lock first)."""

from __future__ import annotations

import random
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec
import pytest
import time_machine

from server import sync
from server.app import ROOT
from server.auth import add_user
from server.catalog import Catalog, publish_files, schema_files
from server.store import Store
from server.store_schema import User
from tests.support import hoa_giai, latest_version, submission

T = datetime(2026, 3, 1, 2, 0, 0, 123_000, tzinfo=UTC)


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "coso.db"
    store = Store(path)
    try:
        publish_files(Catalog(store), schema_files(ROOT / "schemas"))
    finally:
        store.close()
    yield path


def push(db: Path, user: User, *items: dict[str, Any]) -> list[str]:
    """One push by `user` through a server just started on `db` (a restart between pushes)."""
    store = Store(db)
    try:
        results = sync.push(
            store, Catalog(store), user, "phone", [msgspec.json.encode(i) for i in items]
        )
    finally:
        store.close()
    return [r.status for r in results]


def users(db: Path) -> tuple[User, User]:
    store = Store(db)
    try:
        commune, _ = add_user(store, "xa", "officer", "01.00070")
        province, _ = add_user(store, "tinh", "officer", "01")
    finally:
        store.close()
    return commune, province


def stored(db: Path, record_id: str) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """The record's state, and (id, received_at) of its submissions."""
    store = Store(db)
    try:
        doc = msgspec.json.decode(store.record(record_id).doc)
        with store.read() as conn:
            rows = conn.execute(
                "SELECT id, received_at FROM submissions WHERE record_id = ?", [record_id]
            ).fetchall()
    finally:
        store.close()
    return doc, [(r[0], r[1]) for r in rows]


@pytest.mark.parametrize(
    "later",
    [timedelta(0), timedelta(seconds=-1), timedelta(hours=-3)],
    ids=["same-millisecond", "a-second-back", "clock-set-back"],
)
def test_an_edit_stored_before_its_record_never_merges_by_an_officer_above(
    db: Path, later: timedelta
) -> None:
    """The probe's race: the commune's big batch took its time, then waited for the lock
    while the province officer's edit went in first with a later time; the edit was merged."""
    commune, province = users(db)
    version = latest_version("hoa_giai")
    root = submission("hoa_giai", hoa_giai(random.Random(1)), version=version)
    early = submission(
        "hoa_giai",
        {"so_buoi_hoa_giai": 8, "noi_dung_vu_viec": "sửa bởi cán bộ cấp tỉnh"},
        version=version,
        record_id=root["id"],
        parents=[root["id"]],
    )
    with time_machine.travel(T, tick=False):
        assert push(db, province, early) == ["pending"]  # the record is not known yet
    with time_machine.travel(T + later, tick=False):
        assert push(db, commune, root) == ["accepted"]
    doc, times = stored(db, root["id"])
    assert doc["heads"] == [root["id"]]
    assert doc["data"]["noi_dung_vu_viec"] == root["data"]["noi_dung_vu_viec"]
    assert doc["data"].get("so_buoi_hoa_giai") == root["data"].get("so_buoi_hoa_giai")
    received = dict(times)
    assert received[early["id"]] < received[root["id"]]  # stored first, received first


def test_received_times_follow_the_order_of_storing(db: Path) -> None:
    """Each write's time is after the one before it, on one millisecond and across a clock
    set back and a restart; an edit in the root's own batch is checked there and merges."""
    commune, _ = users(db)
    version = latest_version("hoa_giai")
    roots = [submission("hoa_giai", hoa_giai(random.Random(i)), version=version) for i in range(3)]
    own = submission(
        "hoa_giai",
        {"so_buoi_hoa_giai": 7},
        version=version,
        record_id=roots[0]["id"],
        parents=[roots[0]["id"]],
    )
    with time_machine.travel(T, tick=False):
        assert push(db, commune, roots[0], own) == ["accepted", "accepted"]
        assert push(db, commune, roots[1]) == ["accepted"]
    with time_machine.travel(T - timedelta(days=1), tick=False):
        assert push(db, commune, roots[2]) == ["accepted"]
    doc, times = stored(db, roots[0]["id"])
    assert doc["data"]["so_buoi_hoa_giai"] == 7
    assert dict(times)[own["id"]] == dict(times)[roots[0]["id"]] == "2026-03-01T02:00:00.123Z"
    assert stored(db, roots[1]["id"])[1][0][1] == "2026-03-01T02:00:00.124Z"
    assert stored(db, roots[2]["id"])[1][0][1] == "2026-03-01T02:00:00.125Z"
    # the clock right again: its own time
    assert push(db, commune, submission("hoa_giai", hoa_giai(random.Random(9)), version=version))


def test_a_database_an_older_coso_wrote_goes_on_after_its_latest_time(db: Path) -> None:
    """An older coso kept no `received_at` of its own: the next write's time came from the
    clock alone, and one set back made the province officer's pending edit pass for checked
    (found by a probe of the fix)."""
    commune, province = users(db)
    version = latest_version("hoa_giai")
    root = submission("hoa_giai", hoa_giai(random.Random(4)), version=version)
    early = submission(
        "hoa_giai",
        {"so_buoi_hoa_giai": 8},
        version=version,
        record_id=root["id"],
        parents=[root["id"]],
    )
    with time_machine.travel(T, tick=False):
        assert push(db, province, early) == ["pending"]
    with closing(sqlite3.connect(db)) as conn:  # as an older coso left it
        conn.execute("DELETE FROM meta WHERE key = 'received_at'")
        conn.execute("PRAGMA user_version = 3")
        conn.commit()
    with time_machine.travel(T - timedelta(hours=1), tick=False):
        assert push(db, commune, root) == ["accepted"]
    doc, times = stored(db, root["id"])
    assert doc["heads"] == [root["id"]]
    assert dict(times)[early["id"]] < dict(times)[root["id"]]
