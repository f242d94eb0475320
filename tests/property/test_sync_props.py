"""Properties of the real push path: generated hoa_giai histories from several phones, pushed
through `server.sync.push` into a real in-memory store in random orders and batches, with
replays, checked after every batch against `record_model`'s reference evaluation.

Each example gets its own store, cloned from a template with the real forms and users (the
SQLite backup API: well under a millisecond, where publishing the forms takes ~100 ms).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any

import msgspec
from hypothesis import given
from hypothesis import strategies as st

from server import derive, resolve, sync
from server.catalog import Catalog
from server.item import now_iso
from server.protocol import ItemResult, ResolveRequest
from tests.property.record_model import (
    POOLS,
    TIMES,
    Item,
    evaluate,
    evaluate_record,
    fields_of,
    item_of_row,
    new_case,
    to_version,
)
from tests.property.record_model import (
    assert_matches as assert_record_matches,
)
from tests.property.record_model import (
    assert_nothing_lost as assert_no_value_lost,
)
from tests.support import fresh_store

AREA = "01.00070"
DEVICES = ("phone-a", "phone-b", "phone-c", "phone-d")
USER_OF = {"phone-a": "officer", "phone-b": "officer2", "phone-c": "officer", "phone-d": "officer2"}
# For "edits of different fields": each phone edits only its own fields.
OWNED = {
    "phone-a": ("trang_thai",),
    "phone-b": ("so_buoi_hoa_giai", "ket_qua"),
    "phone-c": ("noi_dung_vu_viec",),
    "phone-d": ("muc_do_phuc_tap", "cac_ben"),
}
MAX_ITEMS = 14
NS = uuid.UUID("6f1c2b9e-6a51-4e0b-9d0e-3c6f4f1f7a10")


# --- generated histories -----------------------------------------------------------------


@st.composite
def histories(draw: Any, *, own_fields: bool = False, syncs: bool = True) -> list[Item]:
    """Phones creating and editing up to two cases offline, learning each other's
    submissions now and then (as after a pull); the submissions in the order they were made.

    A phone's edit names the heads it knows as parents and sends either only its changes or
    the whole form as it sees it (its view's provisional values plus its changes)."""
    devices = DEVICES[: draw(st.integers(2, 4))]
    version = {d: draw(st.sampled_from([1, 2, 2])) for d in devices}
    ids = iter(
        draw(st.lists(st.uuids().map(str), min_size=MAX_ITEMS, max_size=MAX_ITEMS, unique=True))
    )
    items: dict[str, Item] = {}
    known: dict[str, set[str]] = {d: set() for d in devices}
    roots: list[str] = []

    def create(d: str) -> None:
        sid = next(ids)
        data = new_case(draw(st.integers(0, 2**16)), version[d])
        items[sid] = Item(sid, sid, (), draw(st.sampled_from(TIMES)), data, version[d], device=d)
        known[d].add(sid)
        roots.append(sid)

    def edit(d: str) -> None:
        mine = [r for r in roots if r in known[d]]
        allowed = fields_of(version[d])
        if own_fields:
            allowed = tuple(f for f in OWNED[d] if f in allowed)
        if not mine or not allowed:
            return
        rid = draw(st.sampled_from(mine))
        view = evaluate_record({i: items[i] for i in known[d] if items[i].record_id == rid})
        assert view is not None
        fields = draw(st.lists(st.sampled_from(allowed), min_size=1, max_size=2, unique=True))
        changes = {f: draw(st.sampled_from(POOLS[f])) for f in fields}
        whole = draw(st.booleans())
        data = to_version({**view.data, **changes} if whole else changes, version[d])
        resolves: list[str] = []
        if draw(st.integers(0, 3)) == 0:
            resolves = draw(st.lists(st.sampled_from(allowed), min_size=1, max_size=2, unique=True))
        sid = next(ids)
        items[sid] = Item(
            sid,
            rid,
            tuple(view.heads),
            draw(st.sampled_from(TIMES)),
            data,
            version[d],
            tuple(to_version(dict.fromkeys(resolves), version[d])),
            d,
        )
        known[d].add(sid)

    create(devices[0])
    for _ in range(draw(st.integers(1, 12))):
        if len(items) == MAX_ITEMS:
            break
        d = draw(st.sampled_from(devices))
        kind = draw(st.sampled_from(["edit", "edit", "edit", "sync", "create"]))
        if kind == "create" and len(roots) < 2:
            create(d)
        elif kind == "sync" and syncs:
            other = draw(st.sampled_from(devices))
            known[d] |= known[other] if draw(st.booleans()) else set(items)
        else:
            if not any(r in known[d] for r in roots):
                known[d] |= known[devices[0]]  # a phone new to the case pulls it first
            edit(d)
    return list(items.values())


@dataclass(frozen=True)
class Batch:
    device: str
    items: tuple[Item, ...]


def in_order(items: Sequence[Item]) -> list[Batch]:
    """Each submission on its own, in the order it was made."""
    return [Batch(it.device, (it,)) for it in items]


@st.composite
def arrivals(draw: Any, items: Sequence[Item], *, replays: bool = True) -> list[Batch]:
    """The submissions in a random order, cut into random batches (a batch comes from one
    phone), with random earlier batches sent again."""
    batches: list[Batch] = []
    for it in draw(st.permutations(items)):
        if batches and batches[-1].device == it.device and draw(st.booleans()):
            batches[-1] = Batch(it.device, (*batches[-1].items, it))
        else:
            batches.append(Batch(it.device, (it,)))
    if not replays:
        return batches
    out = []
    for k, b in enumerate(batches):
        out.append(b)
        if draw(st.integers(0, 3)) == 0:
            out.append(batches[draw(st.integers(0, k))])
    return out


# --- the server under test -----------------------------------------------------------------


class Server:
    """A fresh store with the real forms, and every submission pushed to it so far."""

    def __init__(self) -> None:
        self.store, self.users, _ = fresh_store()
        self.catalog = Catalog(self.store)
        self.stored: dict[str, Item] = {}

    def push(self, batch: Batch) -> list[ItemResult]:
        user = self.users[USER_OF.get(batch.device, "officer")]
        raws = [msgspec.json.encode(it.wire()) for it in batch.items]
        return sync.push(self.store, self.catalog, user, batch.device, raws)

    def docs(self) -> dict[str, dict[str, Any]]:
        with self.store.read() as conn:
            rows = conn.execute("SELECT record_id, doc FROM records").fetchall()
        return {rid: msgspec.json.decode(doc) for rid, doc in rows}

    def seq(self) -> int:
        with self.store.read() as conn:
            return int(
                conn.execute("SELECT coalesce(max(change_seq), 0) FROM records").fetchone()[0]
            )


@contextmanager
def server() -> Iterator[Server]:
    s = Server()
    try:
        yield s
    finally:
        s.store.close()


def deliver(s: Server, batch: Batch) -> list[ItemResult]:
    """Push one batch; check every result, and the whole store, against the reference."""
    before, before_seq, stored_before = s.docs(), s.seq(), set(s.stored)
    results = s.push(batch)
    assert [r.id for r in results] == [it.id for it in batch.items]
    for it in batch.items:
        s.stored.setdefault(it.id, it)
    expected = evaluate(s.stored.values())
    for it, r in zip(batch.items, results, strict=True):
        exp = expected[it.record_id]
        assert r.record_id == it.record_id
        if it.id in stored_before:
            assert r.status == "duplicate", r
        elif exp is None or it.id not in exp.merged:
            assert r.status == "pending", r
        elif exp.conflicts:
            assert (r.status, r.conflicts) == ("conflict", sorted(exp.conflicts)), r
        else:
            assert r.status == "accepted", r
    if stored_before.issuperset(it.id for it in batch.items):
        assert s.docs() == before, "a replay changed a record"
        assert s.seq() == before_seq, "a replay moved the change sequence"
    check_store(s)
    return results


def check_store(s: Server) -> None:
    """The stored submissions are exactly the pushed ones; every record document equals the
    reference state and a from-scratch rebuild from the stored submissions; no value lost."""
    expected = evaluate(s.stored.values())
    docs, seq = s.docs(), s.seq()
    assert set(docs) == {rid for rid, e in expected.items() if e is not None}
    rows = s.store.submissions_of(sorted(expected))
    for rid, exp in expected.items():
        stored = sorted((item_of_row(r).id, item_of_row(r).data) for r in rows[rid])
        want = sorted((it.id, dict(it.data)) for it in s.stored.values() if it.record_id == rid)
        assert stored == want
        if exp is not None:
            assert_record_matches(docs[rid], exp)
            assert_no_value_lost(docs[rid], exp)
    fv = s.catalog.get("hoa_giai")
    assert fv is not None
    with s.store.write() as w:  # rebuild writes only what differs from the stored state
        derive.rebuild(w, sorted(expected), {"hoa_giai": fv.layout}, now_iso())
    assert s.docs() == docs and s.seq() == seq, "the stored state is not merge(stored)"


def play(batches: Sequence[Batch]) -> dict[str, dict[str, Any]]:
    """The final record documents, without the times that depend on when things arrived."""
    with server() as s:
        for b in batches:
            deliver(s, b)
        return {
            rid: {k: v for k, v in doc.items() if k not in ("updated_at", "created_at")}
            for rid, doc in s.docs().items()
        }


def statuses(results: Sequence[ItemResult]) -> set[str]:
    return {r.status for r in results}


# --- the properties --------------------------------------------------------------------------


@given(histories(), st.data())
def test_order_and_batching_never_change_the_records(items: list[Item], data: Any) -> None:
    """(1) and (5): every arrival order, batching and replay ends in the same records, the
    reference state; after every batch each item is accepted/conflict once its ancestry is
    in, pending before, duplicate when sent again."""
    first = play(in_order(items))
    for _ in range(2):
        assert play(data.draw(arrivals(items))) == first


@given(histories(), st.data())
def test_replaying_any_batch_changes_nothing(items: list[Item], data: Any) -> None:
    """(2): once everything is in, every batch sent again is all `duplicate`, and leaves every
    record document and the change sequence as they were."""
    batches = data.draw(arrivals(items, replays=False))
    with server() as s:
        for b in batches:
            deliver(s, b)
        docs, seq = s.docs(), s.seq()
        for b in data.draw(st.permutations(batches)):
            results = s.push(b)
            assert [(r.id, r.status, r.record_id) for r in results] == [
                (it.id, "duplicate", it.record_id) for it in b.items
            ]
        assert s.docs() == docs
        assert s.seq() == seq


@given(histories(syncs=False), st.data())
def test_no_value_of_a_last_writer_is_lost(items: list[Item], data: Any) -> None:
    """(3): phones that never see each other's edits: every value of a last writer is the
    field's value or among its conflict's values, after every batch."""
    with server() as s:
        for b in data.draw(arrivals(items)):
            deliver(s, b)  # checks assert_no_value_lost after each batch
        for rid, doc in s.docs().items():
            exp = evaluate(s.stored.values())[rid]
            assert exp is not None
            assert_no_value_lost(doc, exp)


@given(histories(own_fields=True), st.data())
def test_edits_of_different_fields_never_conflict(items: list[Item], data: Any) -> None:
    """(4a): each phone edits its own fields, offline and concurrently: no conflict, ever."""
    with server() as s:
        for b in data.draw(arrivals(items)):
            assert "conflict" not in statuses(deliver(s, b))
        assert all(doc["conflicts"] == [] for doc in s.docs().values())


@given(histories(), st.data())
def test_a_descendant_of_all_writers_closes_the_conflict(items: list[Item], data: Any) -> None:
    """(4b): two phones write one field concurrently: a conflict. A submission that descends
    from both (pushed by a phone, or a supervisor's resolution) closes it and touches no other
    conflict; one that descends from only one of them leaves it open if the values differ."""
    rid = data.draw(st.sampled_from([it.id for it in items if it.is_root]))
    f = data.draw(st.sampled_from(fields_of(2)))
    x, y = data.draw(st.permutations(POOLS[f]))[:2]
    z = data.draw(st.sampled_from([v for v in POOLS[f] if v is not None]))
    how = data.draw(st.sampled_from(["push", "confirm", "resolve", "one_side"]))

    def new(tag: str, parents: Sequence[str], fields: dict[str, Any], device: str) -> Item:
        sid = str(uuid.uuid5(NS, f"{rid}/{tag}"))
        time = data.draw(st.sampled_from(TIMES))
        return Item(sid, rid, tuple(parents), time, fields, 2, tuple(fields), device)

    with server() as s:
        for b in in_order(items):
            deliver(s, b)
        heads = s.docs()[rid]["heads"]
        ix = new("x", heads, {f: x}, "phone-x")
        iy = new("y", heads, {f: y}, "phone-y")
        deliver(s, Batch("phone-x", (ix,)))
        deliver(s, Batch("phone-y", (iy,)))
        before = {c["field"]: c for c in s.docs()[rid]["conflicts"]}
        assert f in before
        if how == "one_side":
            deliver(s, Batch("phone-x", (new("z", [ix.id], {f: z}, "phone-x"),)))
            assert (f in {c["field"] for c in s.docs()[rid]["conflicts"]}) == (z != y)
            return
        heads = s.docs()[rid]["heads"]
        if how == "push":
            deliver(s, Batch("phone-z", (new("z", heads, {f: z}, "phone-z"),)))
        elif how == "confirm":  # resolves f with no value: confirms the provisional one
            z = s.docs()[rid]["data"].get(f)
            deliver(s, Batch("phone-z", (replace(new("z", heads, {f: None}, "phone-z"), data={}),)))
        else:
            req = ResolveRequest(heads=heads, values={f: z}, note="hai bên thống nhất")
            sid, _ = resolve.resolve(s.store, s.catalog, s.users["supervisor"], rid, req)
            row = next(r for r in s.store.submissions_of([rid])[rid] if r.id == sid)
            s.stored[sid] = item_of_row(row)
            check_store(s)
        after = s.docs()[rid]
        assert after["data"].get(f) == z
        assert {c["field"]: c for c in after["conflicts"]} == {
            g: c for g, c in before.items() if g != f
        }


@given(st.integers(2, 6), st.data())
def test_a_child_before_its_parent_is_pending_until_the_parent_arrives(n: int, data: Any) -> None:
    """(5): a chain of edits arriving in any order: each is pending while an ancestor is
    missing, and once the chain is complete the record is as if it came in order."""
    ids = data.draw(st.lists(st.uuids().map(str), min_size=n, max_size=n, unique=True))
    chain = [Item(ids[0], ids[0], (), TIMES[0], new_case(n, 2))]
    for sid in ids[1:]:
        f = data.draw(st.sampled_from(fields_of(2)))
        value = data.draw(st.sampled_from(POOLS[f]))
        chain.append(
            Item(sid, ids[0], (chain[-1].id,), data.draw(st.sampled_from(TIMES)), {f: value})
        )
    order = data.draw(st.permutations(chain))
    with server() as s:
        arrived: set[str] = set()
        for it in order:
            arrived.add(it.id)
            (result,) = deliver(s, Batch("phone-a", (it,)))
            complete = all(c.id in arrived for c in chain[: chain.index(it) + 1])
            assert (result.status == "pending") == (not complete)
        got = {
            rid: {k: v for k, v in d.items() if k not in ("updated_at", "created_at")}
            for rid, d in s.docs().items()
        }
    assert got == play(in_order(chain))
