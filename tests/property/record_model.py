"""A reference evaluation of the merge rules, written from PROTOCOL.md ("Merge rules") and
sharing no code with `server.merge`, plus the hoa_giai submissions the sync property tests
and the state machine generate.

It is deliberately naive: every base, writer set and state is recomputed from the
definitions, memoised only so that a few dozen submissions stay fast.
"""

from __future__ import annotations

import json
import random
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

from tests.support import hoa_giai

# hoa_giai v2 renamed `tom_tat` to `noi_dung_vu_viec` and added `muc_do_phuc_tap`.
RENAMES = {"tom_tat": "noi_dung_vu_viec"}
V1_NAMES = {new: old for old, new in RENAMES.items()}
V2_ONLY = frozenset({"muc_do_phuc_tap"})

PARTIES_A = [
    {"ho_ten": "Nguyễn Văn An", "vai_tro": "ben_yeu_cau"},
    {"ho_ten": "Trần Thị Bình", "vai_tro": "ben_con_lai"},
]
PARTIES_B = [*PARTIES_A, {"ho_ten": "Lê Văn Cường", "vai_tro": "nguoi_lien_quan"}]

# Small value sets, so that concurrent edits collide often (and sometimes agree).
POOLS: dict[str, list[Any]] = {
    "trang_thai": ["dang_hoa_giai", "hoa_giai_thanh", "hoa_giai_khong_thanh"],
    "so_buoi_hoa_giai": [1, 2, None],
    "ket_qua": ["Hai bên đã thỏa thuận", "Chưa thống nhất", None],
    "noi_dung_vu_viec": ["Tranh chấp lối đi chung", "Tranh chấp ranh giới đất"],
    "muc_do_phuc_tap": ["don_gian", "phuc_tap", None],
    "cac_ben": [PARTIES_A, PARTIES_B],
}
EDITABLE = tuple(POOLS)

# Phone clocks: equal instants written with different offsets (ties broken by id), a clock
# behind, and one far ahead (flagged clock_skew).
TIMES = [
    "2026-03-02T09:00:00+07:00",
    "2026-03-02T02:00:00Z",
    "2026-03-02T10:30:00+07:00",
    "2026-03-01T20:00:00-05:00",
    "2025-12-31T23:59:59+07:00",
    "2099-01-01T00:00:00Z",
]


def nfc(value: Any) -> Any:
    """The server stores text in NFC; generated data is normalised the same way up front."""
    if isinstance(value, str):
        return unicodedata.normalize("NFC", value)
    if isinstance(value, list):
        return [nfc(v) for v in value]
    if isinstance(value, dict):
        return {k: nfc(v) for k, v in value.items()}
    return value


def fields_of(version: int) -> tuple[str, ...]:
    return tuple(f for f in EDITABLE if version == 2 or f not in V2_ONLY)


def to_version(data: Mapping[str, Any], version: int) -> dict[str, Any]:
    """Data under the latest names -> under the names of `version`."""
    if version == 2:
        return dict(data)
    return {V1_NAMES.get(k, k): v for k, v in data.items() if k not in V2_ONLY}


def new_case(seed: int, version: int) -> dict[str, Any]:
    """The whole form of a new mediation case, under the names of `version`."""
    data = nfc(hoa_giai(random.Random(seed)))
    return to_version(data, version)


@dataclass(frozen=True)
class Item:
    """One generated submission, as a phone sends it."""

    id: str
    record_id: str
    parents: tuple[str, ...]
    captured_at: str
    data: Mapping[str, Any]  # under the names of `version`
    version: int = 2
    resolves: tuple[str, ...] = ()
    device: str = "phone-a"

    def wire(self) -> dict[str, Any]:
        item: dict[str, Any] = {
            "id": self.id,
            "form_id": "hoa_giai",
            "form_version": self.version,
            "record_id": None if self.is_root else self.record_id,
            "parents": list(self.parents),
            "captured_at": self.captured_at,
            "data": dict(self.data),
        }
        if self.resolves:
            item["resolves"] = list(self.resolves)
        return item

    @property
    def is_root(self) -> bool:
        return self.id == self.record_id

    @property
    def latest(self) -> dict[str, Any]:
        return {RENAMES.get(k, k): v for k, v in self.data.items()}

    @property
    def latest_resolves(self) -> frozenset[str]:
        return frozenset(RENAMES.get(f, f) for f in self.resolves)

    @property
    def order_key(self) -> tuple[datetime, str]:
        return (datetime.fromisoformat(self.captured_at), self.id)

    @property
    def skewed(self) -> bool:
        # Generated times are either in the past or in 2099; no borderline cases.
        return datetime.fromisoformat(self.captured_at) > datetime.now(UTC) + timedelta(days=1)


def item_of_row(row: Any) -> Item:
    """A stored `SubmissionRow` as an Item (for submissions the test did not make itself)."""
    return Item(
        id=row.id,
        record_id=row.record_id,
        parents=tuple(json.loads(row.parents)),
        captured_at=row.captured_at,
        data=json.loads(row.data),
        version=row.form_version,
        resolves=tuple(json.loads(row.resolves)),
        device=row.device_id,
    )


@dataclass
class Expected:
    """A record's state by the definition."""

    data: dict[str, Any]  # the provisional value of every field; None (cleared) left out
    heads: list[str]
    merged: set[str]
    conflicts: dict[str, list[tuple[Any, Item]]]  # field -> every last writer and its value
    last_writers: dict[str, list[tuple[Any, Item]]] = field(default_factory=dict)
    skewed: bool = False

    @property
    def revision(self) -> int:
        return len(self.merged)


def evaluate(items: Iterable[Item]) -> dict[str, Expected | None]:
    """record_id -> its expected state (None while only pending submissions are stored)."""
    by_record: dict[str, dict[str, Item]] = {}
    for it in items:
        by_record.setdefault(it.record_id, {})[it.id] = it
    return {rid: evaluate_record(subs) for rid, subs in by_record.items()}


def evaluate_record(subs: Mapping[str, Item]) -> Expected | None:
    # Rule 4: a submission takes part once every one of its ancestors is present.
    merged: set[str] = set()
    grew = True
    while grew:
        grew = False
        for s in subs.values():
            if s.id not in merged and all(p in merged for p in s.parents):
                merged.add(s.id)
                grew = True
    if not merged:
        return None

    @cache
    def ancestors(sid: str) -> frozenset[str]:
        out: set[str] = set()
        for p in subs[sid].parents:
            out |= {p} | ancestors(p)
        return frozenset(out)

    @cache
    def writes(sid: str) -> dict[str, Any]:
        # Rule 2: S writes f when f is in S.resolves or S.data[f] differs from base(S)[f].
        # (Python's == is JSON equality here: a field's values all have the form's type, so
        # `True == 1`, where the two differ, cannot meet; 1 == 1.0 as in JSON.)
        s = subs[sid]
        base = state(frozenset(s.parents))[0] if s.parents else {}
        out = {f: v for f, v in s.latest.items() if f in s.latest_resolves or v != base.get(f)}
        out.update({f: base.get(f) for f in s.latest_resolves if f not in out})
        return out

    @cache
    def state(tips: frozenset[str]) -> tuple[dict[str, Any], dict[str, list[tuple[Any, Item]]]]:
        # Rule 3: the last writers of f among the tips and their ancestors.
        scope = set(tips).union(*(ancestors(t) for t in tips))
        values: dict[str, Any] = {}
        last: dict[str, list[tuple[Any, Item]]] = {}
        names = {f for sid in scope for f in writes(sid)}
        for f in sorted(names):
            ws = [sid for sid in scope if f in writes(sid)]
            lw = [w for w in ws if not any(w in ancestors(o) for o in ws if o != w)]
            last[f] = [(writes(w)[f], subs[w]) for w in lw]
            values[f] = max(last[f], key=lambda vs: vs[1].order_key)[0]
        return values, last

    heads = sorted(m for m in merged if not any(m in subs[o].parents for o in merged))
    values, last = state(frozenset(heads))
    conflicts = {}
    for f, lw in last.items():
        distinct: list[Any] = []
        for v, _ in lw:
            if v not in distinct:
                distinct.append(v)
        if len(distinct) > 1:
            conflicts[f] = lw
    return Expected(
        data={f: v for f, v in values.items() if v is not None},
        heads=heads,
        merged=merged,
        conflicts=conflicts,
        last_writers=last,
        skewed=any(subs[m].skewed for m in merged),
    )


def conflict_set(values: Iterable[tuple[Any, str, str, str]]) -> list[tuple[str, str, str, str]]:
    """Competing values as a sorted list, values in canonical JSON so they sort."""
    return sorted((json.dumps(v, sort_keys=True), *rest) for v, *rest in values)


def assert_matches(doc: Mapping[str, Any], exp: Expected) -> None:
    """A stored record document equals the state by the definition."""
    rid = doc["record_id"]
    assert doc["data"] == exp.data, rid
    assert doc["heads"] == exp.heads, rid
    assert doc["revision"] == exp.revision, rid
    assert doc["flags"] == (["clock_skew"] if exp.skewed else []), rid
    got = {
        c["field"]: conflict_set(
            (v["value"], v["submission_id"], v["device_id"], v["captured_at"]) for v in c["values"]
        )
        for c in doc["conflicts"]
    }
    want = {
        f: conflict_set((v, s.id, s.device, s.captured_at) for v, s in lw)
        for f, lw in exp.conflicts.items()
    }
    assert got == want, rid


def assert_nothing_lost(doc: Mapping[str, Any], exp: Expected) -> None:
    """Every value written by a last writer is the field's value or among its conflict's."""
    competing = {
        c["field"]: {
            (json.dumps(v["value"], sort_keys=True), v["submission_id"]) for v in c["values"]
        }
        for c in doc["conflicts"]
    }
    for f, lw in exp.last_writers.items():
        for v, s in lw:
            assert doc["data"].get(f) == v or (
                json.dumps(v, sort_keys=True),
                s.id,
            ) in competing.get(f, ()), f"{doc['record_id']}: {f}={v!r} by {s.id} is lost"
