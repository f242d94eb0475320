"""The file store with writes and reads from several threads at once, as the server has them:
reads that answer one request see one moment (`GET /records/{id}` read a record, then its
submissions, and an edit stored in between was listed `pending` beside heads that did not
know it: found by a probe with a phone pushing and two supervisors reading), a write waits
for its turn once in all, and a push is logged at the time it was stored."""

from __future__ import annotations

import random
import sqlite3
import threading
import time
from pathlib import Path

import msgspec
import pytest

from server import store as store_module
from server import sync
from server.app import ROOT
from server.auth import add_user
from server.catalog import Catalog, publish_files, schema_files
from server.item import now_iso
from server.store import Store
from tests.support import hoa_giai, submission


def test_a_snapshot_does_not_see_a_push_committed_during_it(tmp_path: Path) -> None:
    store = Store(tmp_path / "coso.db")
    try:
        catalog = Catalog(store)
        publish_files(catalog, schema_files(ROOT / "schemas"))
        user, _ = add_user(store, "officer", "officer", "01.00070")
        root = submission("hoa_giai", hoa_giai(random.Random(1)), version=2)
        edit = submission(
            "hoa_giai",
            {"ket_qua": "Đã hòa giải"},
            version=2,
            record_id=root["id"],
            parents=[root["id"]],
        )
        assert sync.push(store, catalog, user, "p", [msgspec.json.encode(root)])[0].status == (
            "accepted"
        )
        with store.snapshot():
            before = msgspec.json.decode(store.record(root["id"]).doc)
            [pushed] = sync.push(store, catalog, user, "p", [msgspec.json.encode(edit)])
            assert pushed.status == "accepted"  # committed, by the writer connection
            subs = store.submissions_of([root["id"]])[root["id"]]
            assert [s.id for s in subs] == [root["id"]] == before["heads"]
        # after the block, the next read sees the edit and the record that merged it
        after = msgspec.json.decode(store.record(root["id"]).doc)
        assert after["heads"] == [edit["id"]]
        assert len(store.submissions_of([root["id"]])[root["id"]]) == 2
    finally:
        store.close()


def test_a_write_waits_its_turn_once_in_all_not_at_each_lock(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another process holds the database's write lock: the first write waits BUSY_SECONDS
    for SQLite, and one queued behind it in this process is refused within the same
    BUSY_SECONDS of its own start, not that long again once its turn comes."""
    monkeypatch.setattr(store_module, "BUSY_SECONDS", 1)
    db = tmp_path / "coso.db"
    store = Store(db)
    other = sqlite3.connect(db, isolation_level=None)  # a `coso` command, writing
    other.execute("BEGIN IMMEDIATE")
    took: dict[str, float] = {}

    def write(name: str) -> None:
        start = time.monotonic()
        with pytest.raises(sqlite3.OperationalError, match="database is locked"), store.write():
            pass
        took[name] = time.monotonic() - start

    try:
        first = threading.Thread(target=write, args=("first",))
        first.start()
        time.sleep(0.2)  # the first holds this process's turn, waiting for SQLite
        write("second")
        first.join()
    finally:
        other.rollback()
        other.close()
        store.close()
    assert 0.9 <= took["first"] < 1.6
    assert took["second"] < 1.3  # its 1 s counts from its start (0.8 s of it behind the first)


def test_a_push_is_logged_at_the_time_it_was_stored_not_received(tmp_path: Path) -> None:
    """A push that waited for its turn behind another write: its audit entry has the time it
    was stored, so that the log's times follow the log's order; and so do its submissions'
    `received_at` (taken before the wait, an edit stored before its record could carry a
    later time than the record, and pass for one checked with it)."""
    store = Store(tmp_path / "coso.db")
    try:
        catalog = Catalog(store)
        publish_files(catalog, schema_files(ROOT / "schemas"))
        user, _ = add_user(store, "officer", "officer", "01.00070")
        holding, released = threading.Event(), {}

        def other_write() -> None:
            with store.write():
                holding.set()
                time.sleep(0.3)
                released["at"] = now_iso()

        blocker = threading.Thread(target=other_write)
        blocker.start()
        holding.wait()
        item = submission("hoa_giai", hoa_giai(random.Random(2)), version=2)
        [result] = sync.push(store, catalog, user, "p", [msgspec.json.encode(item)])
        blocker.join()
        assert result.status == "accepted"
        with store.read() as conn:
            at = conn.execute("SELECT at FROM audit WHERE action = 'sync.push'").fetchone()[0]
            received = conn.execute("SELECT received_at FROM submissions").fetchone()[0]
        assert released["at"] <= received <= at
    finally:
        store.close()
