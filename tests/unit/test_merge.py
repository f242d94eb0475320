"""The merge engine on the worked examples of PROTOCOL.md ("Merge rules"), as tables:
a set of submissions in, the record's state out. No store, no HTTP."""

from __future__ import annotations

import itertools
import time
from typing import Any

import pytest

from server.merge import CLOCK_SKEW, Merged, Sub, merge

T0 = 1_751_000_000.0  # 2025-06-27, a POSIX time


def sub(
    id_: str,
    parents: tuple[str, ...] | str = (),
    ts: float = 0.0,
    device: str = "phone1",
    resolves: str = "",
    skewed: bool = False,
    **data: Any,
) -> Sub:
    """A submission; `parents` and `resolves` may be given as space-separated names."""
    if isinstance(parents, str):
        parents = tuple(parents.split())
    return Sub(
        id=id_,
        parents=parents,
        data=data,
        captured_at=f"t+{ts}",
        captured_ts=T0 + ts,
        device_id=device,
        resolves=frozenset(resolves.split()),
        skewed=skewed,
    )


def conflicts(m: Merged) -> dict[str, list[tuple[Any, str]]]:
    """Each conflict as [(value, submission id)], provisional first."""
    return {f: [(c.value, c.sub.id) for c in cs] for f, cs in m.conflicts.items()}


ROOT = sub("a", ts=0, trang_thai="moi", so_buoi=0, ket_qua="")


# --- the worked examples --------------------------------------------------------------------


def test_a_new_record() -> None:
    m = merge([ROOT])
    assert m.data == {"trang_thai": "moi", "so_buoi": 0, "ket_qua": ""}
    assert m.heads == ["a"]
    assert m.merged == ["a"]
    assert m.conflicts == {}
    assert m.pending == set()
    assert m.flags == []


def test_two_phones_edit_different_fields_no_conflict() -> None:
    b = sub("b", "a", ts=10, device="phone1", trang_thai="dang")
    c = sub("c", "a", ts=5, device="phone2", so_buoi=2)
    m = merge([ROOT, b, c])
    assert m.data == {"trang_thai": "dang", "so_buoi": 2, "ket_qua": ""}
    assert m.conflicts == {}
    assert m.heads == ["b", "c"]


def test_an_edit_sends_the_whole_form_and_unchanged_fields_are_not_writes() -> None:
    # each phone sends every field as it left them; only what changed is a write
    b = sub("b", "a", ts=10, trang_thai="dang", so_buoi=0, ket_qua="")
    c = sub("c", "a", ts=5, device="phone2", trang_thai="moi", so_buoi=2, ket_qua="")
    m = merge([ROOT, b, c])
    assert m.data == {"trang_thai": "dang", "so_buoi": 2, "ket_qua": ""}
    assert m.conflicts == {}


def test_two_phones_edit_the_same_field_conflict_with_both_values() -> None:
    b = sub("b", "a", ts=10, device="phone1", trang_thai="thanh")
    c = sub("c", "a", ts=20, device="phone2", trang_thai="khong_thanh")
    m = merge([ROOT, b, c])
    # provisional: the later (captured_at, id), listed first
    assert m.data["trang_thai"] == "khong_thanh"
    assert conflicts(m) == {"trang_thai": [("khong_thanh", "c"), ("thanh", "b")]}
    assert [x.sub.device_id for x in m.conflicts["trang_thai"]] == ["phone2", "phone1"]
    assert m.conflicts["trang_thai"][0].sub.captured_at == "t+20"


def test_provisional_value_ties_on_time_are_broken_by_id() -> None:
    b = sub("b", "a", ts=10, trang_thai="thanh")
    c = sub("c", "a", ts=10, trang_thai="khong_thanh")
    m = merge([ROOT, c, b])
    assert conflicts(m) == {"trang_thai": [("khong_thanh", "c"), ("thanh", "b")]}


def test_same_value_written_on_two_phones_is_no_conflict() -> None:
    b = sub("b", "a", ts=10, device="phone1", trang_thai="thanh")
    c = sub("c", "a", ts=20, device="phone2", trang_thai="thanh")
    m = merge([ROOT, b, c])
    assert m.data["trang_thai"] == "thanh"
    assert m.conflicts == {}


def test_three_way_conflict_lists_every_writer() -> None:
    subs = [ROOT] + [
        sub(i, "a", ts=t, device=f"phone{t}", so_buoi=n)
        for i, t, n in [("b", 3, 1), ("c", 1, 2), ("d", 2, 1)]
    ]
    assert conflicts(merge(subs)) == {"so_buoi": [(1, "b"), (1, "d"), (2, "c")]}


def test_a_submission_that_descends_from_all_writers_and_writes_closes_the_conflict() -> None:
    b = sub("b", "a", ts=10, trang_thai="thanh")
    c = sub("c", "a", ts=20, trang_thai="khong_thanh")
    d = sub("d", "b c", ts=30, device="supervisor", trang_thai="thanh")
    m = merge([ROOT, b, c, d])
    assert m.data["trang_thai"] == "thanh"
    assert m.conflicts == {}
    assert m.heads == ["d"]


def test_resolving_with_the_provisional_value_closes_the_conflict() -> None:
    b = sub("b", "a", ts=10, trang_thai="thanh")
    c = sub("c", "a", ts=20, trang_thai="khong_thanh")
    confirm = sub("d", "b c", ts=30, resolves="trang_thai", trang_thai="khong_thanh")
    m = merge([ROOT, b, c, confirm])
    assert m.data["trang_thai"] == "khong_thanh"
    assert m.conflicts == {}


def test_resolves_without_the_field_in_data_confirms_the_provisional_value() -> None:
    b = sub("b", "a", ts=10, trang_thai="thanh")
    c = sub("c", "a", ts=20, trang_thai="khong_thanh")
    m = merge([ROOT, b, c, sub("d", "b c", ts=30, resolves="trang_thai")])
    assert m.data["trang_thai"] == "khong_thanh"
    assert m.conflicts == {}


def test_the_provisional_value_sent_back_without_resolves_keeps_the_conflict() -> None:
    # a phone that pulled the conflicted record and edited another field has not chosen
    b = sub("b", "a", ts=10, trang_thai="thanh")
    c = sub("c", "a", ts=20, trang_thai="khong_thanh")
    d = sub("d", "b c", ts=30, trang_thai="khong_thanh", so_buoi=3)
    m = merge([ROOT, b, c, d])
    assert m.data == {"trang_thai": "khong_thanh", "so_buoi": 3, "ket_qua": ""}
    assert conflicts(m) == {"trang_thai": [("khong_thanh", "c"), ("thanh", "b")]}
    assert m.heads == ["d"]


def test_a_writer_that_saw_only_one_side_does_not_close_the_conflict() -> None:
    b = sub("b", "a", ts=10, trang_thai="thanh")
    c = sub("c", "a", ts=20, trang_thai="khong_thanh")
    d = sub("d", "b", ts=30, trang_thai="rut")
    assert conflicts(merge([ROOT, b, c, d])) == {"trang_thai": [("rut", "d"), ("khong_thanh", "c")]}


def test_causality_beats_phone_clocks() -> None:
    # the child's clock is a year behind its parent's: it still wins, with no conflict
    b = sub("b", "a", ts=0, trang_thai="dang")
    c = sub("c", "b", ts=-365 * 86400, trang_thai="thanh")
    m = merge([ROOT, b, c])
    assert m.data["trang_thai"] == "thanh"
    assert m.conflicts == {}


def test_an_absent_field_is_untouched_and_null_clears() -> None:
    b = sub("b", "a", ts=1, so_buoi=None)
    c = sub("c", "b", ts=2)
    m = merge([ROOT, b, c])
    assert m.data == {"trang_thai": "moi", "ket_qua": ""}
    assert m.conflicts == {}


def test_clearing_against_an_edit_is_a_conflict_that_keeps_both() -> None:
    b = sub("b", "a", ts=1, ket_qua=None)
    c = sub("c", "a", ts=2, ket_qua="thoa thuan")
    m = merge([ROOT, b, c])
    assert m.data["ket_qua"] == "thoa thuan"
    assert conflicts(m) == {"ket_qua": [("thoa thuan", "c"), (None, "b")]}
    m = merge([ROOT, sub("b", "a", ts=3, ket_qua=None), c])
    assert "ket_qua" not in m.data  # the provisional value is the clearing
    assert conflicts(m) == {"ket_qua": [(None, "b"), ("thoa thuan", "c")]}


def test_a_repeat_group_is_one_value() -> None:
    parties = [{"ho_ten": "An"}, {"ho_ten": "Binh"}]
    root = sub("a", cac_ben=parties)
    b = sub("b", "a", ts=1, cac_ben=[{"ho_ten": "An", "nam_sinh": 1970}, {"ho_ten": "Binh"}])
    c = sub("c", "a", ts=2, cac_ben=[{"ho_ten": "An"}, {"ho_ten": "Bình"}])
    m = merge([root, b, c])
    assert [v for v, _ in conflicts(m)["cac_ben"]] == [c.data["cac_ben"], b.data["cac_ben"]]
    same = sub("d", "a", ts=3, cac_ben=[{"ho_ten": "An"}, {"ho_ten": "Binh"}])
    assert merge([root, same]).conflicts == {}  # an equal group is no write


def test_json_equality_true_is_not_one() -> None:
    root = sub("a", x=1, y=1.0)
    b = sub("b", "a", ts=1, x=True, y=1)
    m = merge([root, b])
    assert m.data == {"x": True, "y": 1.0}  # x changed to true; y did not change
    assert m.data["x"] is True


def test_clock_skew_is_flagged() -> None:
    b = sub("b", "a", ts=2 * 86400, skewed=True, so_buoi=1)
    m = merge([ROOT, b])
    assert m.flags == [CLOCK_SKEW]
    assert m.data["so_buoi"] == 1  # accepted all the same
    assert merge([ROOT]).flags == []


def test_a_pending_submission_with_clock_skew_does_not_flag_the_record() -> None:
    m = merge([ROOT, sub("c", "missing", skewed=True, so_buoi=9)])
    assert m.flags == []
    assert m.pending == {"c"}


# --- pending, cycles ------------------------------------------------------------------------


def test_a_submission_with_a_missing_parent_is_pending_and_takes_no_part() -> None:
    c = sub("c", "b", ts=2, trang_thai="thanh")
    m = merge([ROOT, c])
    assert m.pending == {"c"}
    assert m.data == ROOT.data
    assert m.heads == ["a"]
    assert m.merged == ["a"]


def test_a_chain_of_pending_submissions_merges_when_the_parent_arrives() -> None:
    b = sub("b", "a", ts=1, so_buoi=1)
    chain = [
        sub(f"c{i}", "b" if i == 0 else f"c{i - 1}", ts=2 + i, so_buoi=2 + i) for i in range(5)
    ]
    m = merge([ROOT, *chain])
    assert m.pending == {s.id for s in chain}
    assert m.data["so_buoi"] == 0
    m = merge([ROOT, *chain, b])
    assert m.pending == set()
    assert m.data["so_buoi"] == 6
    assert m.heads == ["c4"]
    assert m.merged == ["a", "b", "c0", "c1", "c2", "c3", "c4"]


def test_a_new_record_whose_root_is_missing_is_all_pending() -> None:
    m = merge([sub("b", "a", so_buoi=1)])
    assert (m.data, m.heads, m.merged, m.pending) == ({}, [], [], {"b"})


def test_pending_only_blocks_its_own_descendants() -> None:
    b = sub("b", "a", ts=1, so_buoi=1)
    lost = sub("x", "a missing", ts=5, so_buoi=9)
    after = sub("y", "x", ts=6, ket_qua="z")
    m = merge([ROOT, b, lost, after])
    assert m.pending == {"x", "y"}
    assert m.data["so_buoi"] == 1
    assert m.heads == ["b"]


@pytest.mark.parametrize(
    "subs",
    [
        [sub("b", "c", so_buoi=1), sub("c", "b", so_buoi=2)],
        [sub("b", "b", so_buoi=1)],
        [sub("b", "a d", so_buoi=1), sub("c", "b", so_buoi=2), sub("d", "c", so_buoi=3)],
        [sub("b", "a", so_buoi=1), sub("c", "b e"), sub("d", "c"), sub("e", "d")],
    ],
    ids=["two-cycle", "self-parent", "cycle-through-root-child", "cycle-beside-a-good-child"],
)
def test_cycles_stay_pending_and_never_crash(subs: list[Sub]) -> None:
    for order in itertools.permutations([ROOT, *subs]):
        m = merge(order)
        cyclic = {s.id for s in subs if s.parents != ("a",)}
        assert m.pending == cyclic
        assert "a" in m.merged
        assert set(m.merged) == {"a"} | {s.id for s in subs} - cyclic


def test_a_long_history_merges_without_recursion_limits() -> None:
    # ids that sort against the chain (newest first) made a recursive walk 1 deep per edit
    n = 600
    ids = [f"{n - i:04d}" for i in range(n)]
    chain = [sub(ids[i], ids[i - 1] if i else (), ts=i, so_buoi=i % 7) for i in range(n)]
    m = merge(reversed(chain))
    assert m.pending == set()
    assert m.heads == [ids[-1]]
    assert m.data["so_buoi"] == (n - 1) % 7


# --- a pure function of the set -------------------------------------------------------------


def test_order_of_the_input_never_matters() -> None:
    subs = [
        ROOT,
        sub("b", "a", ts=10, trang_thai="thanh"),
        sub("c", "a", ts=20, device="phone2", trang_thai="khong_thanh", so_buoi=1),
        sub("d", "b", ts=5, ket_qua="x"),
        sub("e", "c d", ts=1, so_buoi=2),
        sub("f", "zz", ts=1, so_buoi=3),
    ]
    first = merge(subs)
    for order in itertools.permutations(subs):
        assert merge(order) == first


def test_duplicates_in_the_input_are_one_submission() -> None:
    b = sub("b", "a", ts=1, so_buoi=1)
    assert merge([ROOT, b, b, ROOT]) == merge([ROOT, b])


@pytest.mark.parametrize("ids", ["rising", "falling"])
def test_a_long_chain_merges_in_about_linear_time(ids: str) -> None:
    """A 20,000-edit chain (one phone's long offline history, arriving child first) merges
    in well under a second: keeping every submission's ancestor set cost n^2/2 and the
    topological order re-scanned the waiting ones, which held the server for half a minute
    at 10,000. The bound is 50 times what it takes, for a busy machine."""
    n = 20_000
    name = (lambda k: f"{k:06d}") if ids == "rising" else (lambda k: f"{n - k:06d}")
    chain = [sub(name(0), so_buoi=0, trang_thai="moi")]
    for k in range(1, n):
        chain.append(sub(name(k), name(k - 1), ts=k, so_buoi=k))
    start = time.perf_counter()
    m = merge(reversed(chain))
    assert time.perf_counter() - start < 5
    assert m.data == {"so_buoi": n - 1, "trang_thai": "moi"}
    assert m.heads == [name(n - 1)] and len(m.merged) == n and not m.conflicts


def test_many_heads_of_one_field_merge_in_about_linear_time() -> None:
    """20,000 phones' edits of one field from the same parent, each its own value (a case every
    device edited offline, never pulling): one conflict of them all, found in a pass. Each
    value was compared with each (n^2/2), which held every push for a second at 1,500. The
    bound is many times what it takes, for a busy machine."""
    n = 20_000
    subs = [ROOT, *(sub(f"s{k:05d}", "a", ts=k, ket_qua=f"kq {k}") for k in range(n))]
    start = time.perf_counter()
    m = merge(subs)
    assert time.perf_counter() - start < 5
    assert len(m.heads) == n and m.data["ket_qua"] == f"kq {n - 1}"
    assert len(m.conflicts["ket_qua"]) == n
    same = merge([ROOT, *(sub(f"s{k:05d}", "a", ts=k, ket_qua="x") for k in range(n))])
    assert same.data["ket_qua"] == "x" and not same.conflicts


def test_a_conflict_carried_down_a_chain_stays_open_until_written() -> None:
    """With one head, the record is that head's state: a conflict made by a merge of two
    writers and carried down a chain is still listed, and closed by the edit that writes it."""
    subs = [
        sub("r", so_buoi=0),
        sub("a", "r", ts=1, device="phone1", so_buoi=1),
        sub("b", "r", ts=2, device="phone2", so_buoi=2),
        sub("m", "a b", ts=3, ket_qua="x"),
        sub("c", "m", ts=4, ket_qua="y"),
    ]
    m = merge(subs)
    assert m.heads == ["c"]
    assert [(c.value, c.sub.id) for c in m.conflicts["so_buoi"]] == [(2, "b"), (1, "a")]
    assert m.data == {"so_buoi": 2, "ket_qua": "y"}
    m = merge([*subs, sub("d", "c", ts=5, so_buoi=3)])
    assert m.conflicts == {} and m.data["so_buoi"] == 3
