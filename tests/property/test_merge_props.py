"""Properties of the merge engine over generated records: random DAGs of submissions from
several phones, editing a few fields with a few values each, so that conflicts are common.

The REFERENCE below is PROTOCOL.md's "Merge rules" 2-4 read literally: ancestors by walking
parents, `base` by recursion, last writers by comparing every pair. It shares no code with
server/merge.py, and is slow on purpose: it is written to be obviously right.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from server.merge import CLOCK_SKEW, Merged, Sub, merge

FIELDS = ("trang_thai", "so_buoi", "ket_qua", "cac_ben")
# small sets, so that phones often write the same field. 0 and 0.0 are one JSON number (a phone
# may send either for a decimal), while false and true are not the numbers 0 and 1
VALUES = (
    "thanh",
    "khong_thanh",
    None,
    0,
    0.0,
    1,
    False,
    True,
    [{"ho_ten": "An"}],
    [{"ho_ten": "Bình"}],
)
DEVICES = ("phone1", "phone2", "phone3", "supervisor")


# --- the reference --------------------------------------------------------------------------


def canon(v: Any) -> Any:
    """A JSON value as a hashable key that is equal for equal JSON values: numbers by their
    exact value (1 is 1.0), booleans apart from numbers, objects whatever their key order."""
    if v is None or isinstance(v, (bool, str)):
        return (type(v).__name__, v)
    if isinstance(v, (int, float)):
        return ("number", Fraction(v))
    if isinstance(v, list):
        return ("array", tuple(canon(x) for x in v))
    return ("object", frozenset((k, canon(x)) for k, x in v.items()))


def same(a: Any, b: Any) -> bool:
    """JSON equality."""
    return canon(a) == canon(b)


@dataclass
class Expected:
    data: dict[str, Any]
    conflicts: dict[str, list[tuple[Any, str]]]  # field -> [(value, sub id)], provisional first
    last_writers: dict[str, list[tuple[Any, str]]]
    heads: list[str]
    merged: set[str]
    pending: set[str]
    flags: list[str]


def reference(subs: list[Sub]) -> Expected:
    by_id = {s.id: s for s in subs}

    # rule 4: a submission takes part when all its parents do (cycles never get in)
    ok: set[str] = set()
    grew = True
    while grew:
        grew = False
        for s in by_id.values():
            if s.id not in ok and all(p in ok for p in s.parents):
                ok.add(s.id)
                grew = True

    def ancestors(sid: str) -> set[str]:
        found: set[str] = set()
        todo = list(by_id[sid].parents)
        while todo:
            p = todo.pop()
            if p not in found:
                found.add(p)
                todo.extend(by_id[p].parents)
        return found

    anc = {sid: ancestors(sid) for sid in ok}
    written: dict[str, dict[str, Any]] = {}

    def writes(sid: str) -> dict[str, Any]:
        """Rule 2: what `sid` writes, against the merged state of its parents."""
        if sid not in written:
            s = by_id[sid]
            base = state(s.parents)[0] if s.parents else {}
            w = {f: v for f, v in s.data.items() if f in s.resolves or not same(v, base.get(f))}
            w |= {f: base.get(f) for f in s.resolves if f not in s.data}
            written[sid] = w
        return written[sid]

    def state(tips: tuple[str, ...] | list[str]) -> tuple[dict[str, Any], dict, dict]:
        """Rule 3: the merged state of a set of submissions, given by its tips."""
        scope = set(tips).union(*(anc[t] for t in tips))
        data, conflicts, last_writers = {}, {}, {}
        for f in FIELDS:
            ws = [t for t in scope if f in writes(t)]
            if not ws:
                continue
            last = [t for t in ws if not any(t in anc[u] for u in ws if u != t)]
            last.sort(key=lambda t: (by_id[t].captured_ts, t), reverse=True)
            data[f] = writes(last[0])[f]
            last_writers[f] = [(writes(t)[f], t) for t in last]
            if len({canon(writes(t)[f]) for t in last}) > 1:
                conflicts[f] = last_writers[f]
        return data, conflicts, last_writers

    heads = sorted(sid for sid in ok if not any(sid in by_id[o].parents for o in ok))
    data, conflicts, last_writers = state(heads)
    return Expected(
        data={f: v for f, v in data.items() if v is not None},
        conflicts=conflicts,
        last_writers=last_writers,
        heads=heads,
        merged=ok,
        pending=set(by_id) - ok,
        flags=[CLOCK_SKEW] if any(by_id[sid].skewed for sid in ok) else [],
    )


def as_pairs(m: Merged) -> dict[str, list[tuple[Any, str]]]:
    return {f: [(c.value, c.sub.id) for c in cs] for f, cs in m.conflicts.items()}


def assert_matches(m: Merged, expected: Expected) -> None:
    assert m.data == expected.data
    assert as_pairs(m) == expected.conflicts
    assert m.heads == expected.heads
    assert set(m.merged) == expected.merged
    assert len(m.merged) == len(expected.merged)
    assert m.pending == expected.pending
    assert m.flags == expected.flags


# --- generated records ----------------------------------------------------------------------

ids = st.from_regex(r"[0-9a-f]{4}", fullmatch=True)  # random, so id order is not history order


@st.composite
def submissions(draw: st.DrawFn, sid: str, parents: tuple[str, ...]) -> Sub:
    ts = draw(st.integers(0, 5))  # few distinct times: ties are broken by id
    return Sub(
        id=sid,
        parents=parents,
        data=draw(st.dictionaries(st.sampled_from(FIELDS), st.sampled_from(VALUES), max_size=3)),
        captured_at=f"2025-07-01T08:0{ts}:00+07:00",
        captured_ts=1_751_331_600.0 + 60 * ts,
        device_id=draw(st.sampled_from(DEVICES)),
        resolves=frozenset(draw(st.sets(st.sampled_from(FIELDS), max_size=2)))
        if draw(st.integers(0, 3)) == 0
        else frozenset(),
        skewed=draw(st.integers(0, 9)) == 0,
    )


@st.composite
def histories(draw: st.DrawFn, min_size: int = 1, max_size: int = 10) -> list[Sub]:
    """A record: a root, then submissions whose parents are a non-empty set of earlier ones."""
    names = draw(st.lists(ids, min_size=min_size, max_size=max_size, unique=True))
    subs: list[Sub] = []
    for i, sid in enumerate(names):
        parents = st.lists(st.sampled_from(names[:i]), min_size=1, max_size=3, unique=True)
        subs.append(draw(submissions(sid, tuple(draw(parents)) if i else ())))
    return subs


@st.composite
def damaged_histories(draw: st.DrawFn) -> list[Sub]:
    """A history with some submissions not arrived yet, sometimes a second root (a record
    created twice under one id), and sometimes a parent link to a later submission (a
    cycle) or to one that never existed."""
    subs = draw(histories())
    if draw(st.integers(0, 3)) == 0:
        subs.append(draw(submissions("eeee-root", ())))
    lost = draw(st.sets(st.sampled_from([s.id for s in subs]), max_size=2))
    subs = [s for s in subs if s.id not in lost]
    if subs and draw(st.booleans()):
        i = draw(st.integers(0, len(subs) - 1))
        extra = draw(st.sampled_from([s.id for s in subs] + ["ffff-missing"]))
        s = subs[i]
        subs[i] = Sub(
            s.id,
            (*s.parents, extra),
            s.data,
            s.captured_at,
            s.captured_ts,
            s.device_id,
            s.resolves,
            s.skewed,
        )
    return subs


def child(sid: str, parents: list[str] | tuple[str, ...], ts: int = 9, **data: Any) -> Sub:
    resolves = frozenset(data.pop("resolves", ()))
    return Sub(sid, tuple(parents), data, f"t{ts}", 1_751_331_600.0 + 60 * ts, "phone9", resolves)


def descendants(subs: list[Sub], sid: str) -> set[str]:
    found: set[str] = set()
    grew = True
    while grew:
        grew = False
        for s in subs:
            if s.id not in found and (sid in s.parents or found & set(s.parents)):
                found.add(s.id)
                grew = True
    return found


# --- (1) merge equals the reference, for every order ----------------------------------------


@given(histories(), st.data())
def test_merge_equals_the_reference(subs: list[Sub], data: st.DataObject) -> None:
    m = merge(subs)
    assert_matches(m, reference(subs))
    assert merge(data.draw(st.permutations(subs), label="order")) == m


@given(damaged_histories(), st.data())
def test_merge_equals_the_reference_with_pending_and_cycles(
    subs: list[Sub], data: st.DataObject
) -> None:
    m = merge(subs)
    assert_matches(m, reference(subs))
    assert merge(data.draw(st.permutations(subs), label="order")) == m


@given(damaged_histories())
def test_merged_is_in_a_topological_order(subs: list[Sub]) -> None:
    m = merge(subs)
    by_id = {s.id: s for s in subs}
    seen: set[str] = set()
    for sid in m.merged:
        assert set(by_id[sid].parents) <= seen
        seen.add(sid)


# --- (3) no value is lost -------------------------------------------------------------------


@given(damaged_histories())
def test_every_last_writers_value_is_kept(subs: list[Sub]) -> None:
    m = merge(subs)
    for f, writers in reference(subs).last_writers.items():
        kept = [m.data.get(f)] + [c.value for c in m.conflicts.get(f, [])]
        for value, sid in writers:
            assert any(same(value, k) for k in kept), (f, value, sid)
        if len({canon(v) for v, _ in writers}) > 1:
            # a conflict names every last writer, with its device and time
            assert {c.sub.id for c in m.conflicts[f]} == {sid for _, sid in writers}


# --- (4) different fields never conflict; descending from all writers closes ----------------


@given(histories(), st.permutations(FIELDS), st.integers(2, len(FIELDS)), st.data())
def test_concurrent_edits_of_different_fields_never_conflict(
    subs: list[Sub], fields: list[str], phones: int, data: st.DataObject
) -> None:
    before = merge(subs)
    edits = []
    for i, f in enumerate(fields[:phones]):
        value = data.draw(st.sampled_from([v for v in VALUES if not same(v, before.data.get(f))]))
        edits.append(child(f"e{i}", before.heads, ts=data.draw(st.integers(0, 9)), **{f: value}))
    m = merge(subs + edits)
    for e in edits:
        ((f, value),) = e.data.items()
        assert f not in m.conflicts
        assert same(m.data.get(f), value)
    # untouched fields keep their value and their conflicts
    untouched = set(FIELDS) - set(fields[:phones])
    assert {f: m.data.get(f) for f in untouched} == {f: before.data.get(f) for f in untouched}
    assert {f: as_pairs(m)[f] for f in untouched if f in m.conflicts} == {
        f: as_pairs(before)[f] for f in untouched if f in before.conflicts
    }
    assert m.heads == sorted(e.id for e in edits)


@st.composite
def conflicted(draw: st.DrawFn) -> tuple[list[Sub], str]:
    """A generated record, then two concurrent edits of one field with two values that
    both differ from its current one: a conflict on that field."""
    subs = draw(histories())
    f = draw(st.sampled_from(FIELDS))
    before = merge(subs)
    fresh = [v for v in VALUES if not same(v, before.data.get(f))]
    v1, v2 = draw(st.lists(st.sampled_from(fresh), min_size=2, max_size=2, unique_by=canon))
    c1 = child("c1", before.heads, ts=draw(st.integers(0, 9)), **{f: v1})
    c2 = child("c2", before.heads, ts=draw(st.integers(0, 9)), **{f: v2})
    return [*subs, c1, c2], f


@given(conflicted(), st.sampled_from(VALUES), st.booleans())
def test_a_writer_descending_from_all_writers_closes_the_conflict(
    case: tuple[list[Sub], str], value: Any, from_all_heads: bool
) -> None:
    subs, f = case
    m = merge(subs)
    assert f in m.conflicts
    writers = [c.sub.id for c in m.conflicts[f]]
    parents = m.heads if from_all_heads else writers
    # a value equal to the provisional one is only a write with `resolves`
    resolves = (f,) if same(value, m.data.get(f)) else ()
    after = merge([*subs, child("z", parents, ts=0, **{f: value}, resolves=resolves)])
    assert f not in after.conflicts
    assert same(after.data.get(f), value)
    # the other fields' conflicts are not closed by it
    assert {g: as_pairs(after)[g] for g in after.conflicts} == {
        g: as_pairs(m)[g] for g in m.conflicts if g != f
    }


@given(conflicted(), st.booleans())
def test_resolving_with_the_provisional_value_closes_the_conflict(
    case: tuple[list[Sub], str], in_data: bool
) -> None:
    subs, f = case
    m = merge(subs)
    provisional = m.conflicts[f][0].value
    data = {f: provisional} if in_data else {}
    after = merge([*subs, child("z", m.heads, **data, resolves=(f,))])
    assert f not in after.conflicts
    assert same(after.data.get(f), provisional)
    # the same value sent back without `resolves` writes nothing: the conflict stays
    unresolved = merge([*subs, child("z", m.heads, **{f: provisional})])
    assert as_pairs(unresolved)[f] == as_pairs(m)[f]


# --- (5) pending ----------------------------------------------------------------------------


@given(histories(min_size=2), st.data())
def test_a_missing_ancestor_holds_back_its_descendants(
    subs: list[Sub], data: st.DataObject
) -> None:
    missing = data.draw(st.sampled_from([s.id for s in subs[1:]]), label="missing")
    held = descendants(subs, missing)
    without = [s for s in subs if s.id != missing]
    m = merge(without)
    assert m.pending == held
    assert not held & set(m.merged)
    assert not held & set(m.heads)
    # as if the held-back ones had never been sent
    alone = merge([s for s in without if s.id not in held])
    assert (m.data, m.conflicts, m.heads, m.merged) == (
        alone.data,
        alone.conflicts,
        alone.heads,
        alone.merged,
    )
    # and when it arrives, last, the state is as if it had been there all along
    assert merge([*without, next(s for s in subs if s.id == missing)]) == merge(subs)


@given(histories(), st.integers(2, 6), st.data())
def test_a_chain_of_pending_submissions(subs: list[Sub], length: int, data: st.DataObject) -> None:
    heads = merge(subs).heads
    first = child("p0", [data.draw(st.sampled_from(heads))], ts=1, so_buoi=100)
    chain = [first]
    for i in range(1, length):
        value = data.draw(st.sampled_from(VALUES))
        chain.append(child(f"p{i}", [chain[-1].id], ts=data.draw(st.integers(0, 9)), ket_qua=value))
    waiting = merge(subs + chain[1:])
    assert waiting.pending == {c.id for c in chain[1:]}
    before = merge(subs)
    assert (waiting.data, waiting.conflicts, waiting.heads) == (
        before.data,
        before.conflicts,
        before.heads,
    )
    arrived = merge(data.draw(st.permutations(subs + chain), label="order"))
    assert arrived.pending == set()
    assert arrived == merge(subs + chain)
    assert chain[-1].id in arrived.heads
    kept = [arrived.data.get("so_buoi")] + [c.value for c in arrived.conflicts.get("so_buoi", [])]
    assert 100 in kept
