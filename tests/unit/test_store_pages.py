"""Pages of records by area and change (`Store.records_page`, behind `/sync/pull`,
`/records`, `/conflicts` and exports): the same page whichever way it is read, the area's own
index or every change in order, and a page of a quiet commune costs its own records, not the
country's (a probe at 1.2M records: a phone of a commune with none took 0.5 s a sync, and
held every push back meanwhile)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from server import areas
from server import store as store_module
from server.store import Store

AREAS = ["01", "01.00070", "01.00071", "01.00070.tdp1", "010", "79", "79.26734", "01-x"]
FORMS = ["hoa_giai", "mo_hinh", "tuyen_truyen"]


def fill(store: Store, rows: list[tuple[str, str, int]]) -> None:
    """Records (area, form, has_conflicts), in change order."""
    with store.write() as w:
        w.conn.execute("DELETE FROM records")
        w.conn.executemany(
            "INSERT INTO records (record_id, form_id, area, change_seq, has_conflicts, doc, "
            "pending) VALUES (?, ?, ?, ?, ?, '{}', 0)",
            [(f"r{i}", form, area, i, c) for i, (area, form, c) in enumerate(rows, 1)],
        )


def expected(rows: list[tuple[str, str, int]], **q: Any) -> list[int]:
    def inside(area: str) -> bool:
        if not q["below"]:
            return area == q["area"]
        return areas.contains(q["area"], area)

    return [
        seq
        for seq, (area, form, c) in enumerate(rows, 1)
        if seq > q["since"]
        and inside(area)
        and (q["form_ids"] is None or form in q["form_ids"])
        and (c or not q["conflicts_only"])
    ][: q["limit"]]


@pytest.fixture(scope="module")
def store() -> Iterator[Store]:
    yield Store(":memory:")


@pytest.mark.parametrize("few", [2, 20_000])
@settings(max_examples=150, deadline=None)
@given(
    rows=st.lists(
        st.tuples(st.sampled_from(AREAS), st.sampled_from(FORMS), st.integers(0, 1)), max_size=40
    ),
    area=st.sampled_from(["", *AREAS, "02"]),
    below=st.booleans(),
    since=st.integers(0, 45),
    limit=st.integers(1, 12),
    form_ids=st.none() | st.lists(st.sampled_from(FORMS), min_size=1, max_size=2, unique=True),
    conflicts_only=st.booleans(),
)
def test_a_page_is_the_same_whichever_index_reads_it(
    store: Store, few: int, rows: list[tuple[str, str, int]], **q: Any
) -> None:
    """`few` 2: nearly every page is read from the area's index; 20,000: from every change in
    order. Both give the records of the area (and below it, unless not `below`) after `since`,
    oldest change first."""
    if q["area"] == "" and not q["below"]:
        return  # no one has that: an officer always has an area
    fill(store, rows)
    old, store_module.FEW_CHANGES = store_module.FEW_CHANGES, few
    try:
        page, _ = store.records_page(**q)
    finally:
        store_module.FEW_CHANGES = old
    assert [r.change_seq for r in page] == expected(rows, **q)


def steps(store: Store, **q: Any) -> int:
    """SQLite's virtual machine steps (in hundreds) to read a page."""
    count = [0]

    def tick() -> int:
        count[0] += 1
        return 0

    with store.read() as conn:
        conn.set_progress_handler(tick, 100)
        try:
            store.records_page(**q)
        finally:
            conn.set_progress_handler(None, 100)
    return count[0]


@pytest.mark.parametrize(
    ("area", "below"),
    [("01.00071", False), ("79", True), ("02", True), ("79.26734", False)],
    ids=["quiet-commune-phone", "province-with-few", "province-with-none", "commune-with-few"],
)
def test_a_page_of_a_quiet_area_costs_its_own_records_not_the_countrys(
    store: Store, area: str, below: bool
) -> None:
    """50,000 changes in one busy commune, 5 in 79.26734: a page for a quiet area reads a few
    index entries, where walking every change after the cursor took the 50,000 each time
    (and `next` never moved past them, so every sync did it again)."""
    rows = [("01.00070", "hoa_giai", 0)] * 50_000
    for at in (10, 20_000, 30_000, 40_000, 49_990):
        rows[at] = ("79.26734", "hoa_giai", 1)
    fill(store, rows)
    busy = steps(store, area="01.00070", since=0, limit=500, form_ids=None, below=False)
    for since in (0, 25_000):
        quiet = steps(store, area=area, since=since, limit=500, form_ids=["hoa_giai"], below=below)
        assert quiet * 20 < 50_000 // 100, (quiet, busy)
    assert busy > 0


def test_the_area_index_is_made_on_an_older_database(tmp_path: Any) -> None:
    """A database of the schema before it gets the index at the next start."""
    path = tmp_path / "coso.db"
    Store(path)
    conn = sqlite3.connect(path)
    conn.execute("DROP INDEX records_area_seq")
    conn.execute("PRAGMA user_version = 2")
    conn.commit()
    conn.close()
    Store(path)
    names = {r[0] for r in sqlite3.connect(path).execute("SELECT name FROM sqlite_master")}
    assert "records_area_seq" in names
