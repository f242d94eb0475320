"""The merge engine: a record's set of submissions -> its state, heads and conflicts.

Pure functions, no I/O. The result depends only on the set of submissions, never on the
order or batching in which they arrived (PROTOCOL.md, "Merge rules"):

- `base(S)` is the merged state of S's parents; S *writes* f when f is in `S.resolves` or
  `S.data[f]` differs from `base(S)[f]`.
- The merged state of a set X gives each field the value of its *last writers*: the writers
  of f in X and its ancestors that are not ancestors of another writer of f. Several
  distinct values -> a conflict; the provisional value is the one of the last writer with
  the greatest `(captured_at, id)`.
- A submission whose ancestry is not all present is *pending* and takes no part.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

CLOCK_SKEW = "clock_skew"


@dataclass(frozen=True, slots=True)
class Sub:
    """One submission as the engine sees it: `data` already under the latest names."""

    id: str
    parents: tuple[str, ...]
    data: Mapping[str, Any]
    captured_at: str = ""
    # `captured_at` as a number that orders as the instant does, so offsets compare right
    # (derive gives exact integer nanoseconds; any number ordering the same would do)
    captured_ts: float = 0.0
    device_id: str = ""
    resolves: frozenset[str] = frozenset()
    skewed: bool = False  # captured_at more than a day ahead of the server when received


@dataclass(frozen=True, slots=True)
class Competing:
    value: Any
    sub: Sub


@dataclass(slots=True)
class Merged:
    data: dict[str, Any] = field(default_factory=dict)
    conflicts: dict[str, list[Competing]] = field(default_factory=dict)
    heads: list[str] = field(default_factory=list)
    merged: list[str] = field(default_factory=list)  # in a topological order
    pending: set[str] = field(default_factory=set)
    flags: list[str] = field(default_factory=list)


def _order_key(s: Sub) -> tuple[float, str]:
    return (s.captured_ts, s.id)


def mergeable(subs: Mapping[str, Sub]) -> list[Sub]:
    """The submissions whose every ancestor is present, parents before children: of those
    ready at each step, the smallest id first (Kahn's algorithm with a heap, O(n log n))."""
    # Without recursion: a record's history can be longer than Python's recursion limit.
    # A submission is ready once all its parents are; a missing parent or a cycle never is.
    waiting = {sid: len(set(s.parents)) for sid, s in subs.items()}
    children: dict[str, list[str]] = {}
    for sid, s in subs.items():
        for p in set(s.parents):
            children.setdefault(p, []).append(sid)
    ready = [sid for sid, n in waiting.items() if n == 0]
    heapq.heapify(ready)
    order: list[Sub] = []
    while ready:
        sid = heapq.heappop(ready)
        order.append(subs[sid])
        for c in children.get(sid, ()):
            waiting[c] -= 1
            if not waiting[c]:
                heapq.heappush(ready, c)
    return order


class _Ancestry:
    """Ancestors of the submissions asked about, found by walking parents when first asked.
    Only those asked about are kept: keeping every submission's set made a chain of n edits
    cost n^2/2 (a 10,000-edit chain arriving child first held the server for half a minute)."""

    def __init__(self, subs: Mapping[str, Sub]) -> None:
        self.subs = subs
        self._known: dict[str, frozenset[str]] = {}

    def of(self, sid: str) -> frozenset[str]:
        found = self._known.get(sid)
        if found is None:
            found = self._known[sid] = frozenset(self.scope([sid])) - {sid}
        return found

    def scope(self, tips: Iterable[str]) -> set[str]:
        """`tips` and all their ancestors."""
        seen = set(tips)
        todo = list(seen)
        while todo:
            for p in self.subs[todo.pop()].parents:
                if p not in seen:
                    seen.add(p)
                    todo.append(p)
        return seen


def _state_of(
    tips: Iterable[str],
    ancestry: _Ancestry,
    writers: Mapping[str, list[tuple[Sub, Any]]],
) -> tuple[dict[str, Any], dict[str, list[Competing]]]:
    """Merged state and conflicts of a set of submissions given by its tips."""
    scope = ancestry.scope(tips)
    data: dict[str, Any] = {}
    conflicts: dict[str, list[Competing]] = {}
    for f, ws in writers.items():
        if len(ws) == 1:  # the one writer of f (the common case): its value, no conflict
            if ws[0][0].id in scope:
                data[f] = ws[0][1]
            continue
        inside = [(s, v) for s, v in ws if s.id in scope]
        if len(inside) <= 1:
            if inside:
                data[f] = inside[0][1]
            continue
        # a writer is a last writer unless it is an ancestor of another writer. `inside` is
        # in topological order, so walking it backwards meets every writer after its
        # descendants; an ancestor of a hidden writer is an ancestor of a last one, so only
        # the last writers' ancestors need collecting (not all writers': that was O(n^3)).
        hidden: set[str] = set()
        last = []
        for s, v in reversed(inside):
            if s.id not in hidden:
                last.append((s, v))
                hidden |= ancestry.of(s.id)
        last.sort(key=lambda sv: _order_key(sv[0]), reverse=True)
        data[f] = last[0][1]
        # a conflict when two last writers differ: when one differs from the first (JSON
        # equality is an equivalence), in one pass (each against each took 1 s a push at
        # 1,500 heads of one case)
        if any(not same_value(v, data[f]) for _, v in last[1:]):
            conflicts[f] = [Competing(v, s) for s, v in last]
    return data, conflicts


def same_value(a: Any, b: Any) -> bool:
    """JSON equality: `True` is not `1`, but `1` is `1.0`."""
    if a != b:  # JSON-equal values are always equal in Python: most differences end here
        return False
    # Python also says True == 1 and False == 0.0, at any depth
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b)
    if isinstance(a, list):  # b is an equal list: same length
        return all(same_value(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):  # b is an equal dict: same keys
        return all(same_value(v, b[k]) for k, v in a.items())
    return True


def merge(submissions: Iterable[Sub]) -> Merged:
    """The state of a record: a pure function of the set of its submissions."""
    subs = {s.id: s for s in submissions}
    if len(subs) == 1:
        (only,) = subs.values()
        if not only.parents:  # a new record alone (most pushes): every value it has
            return Merged(
                data={f: v for f, v in sorted(only.data.items()) if v is not None},
                heads=[only.id],
                merged=[only.id],
                flags=[CLOCK_SKEW] if only.skewed else [],
            )
    order = mergeable(subs)
    ancestry = _Ancestry(subs)
    writers: dict[str, list[tuple[Sub, Any]]] = {}
    children: set[str] = set()
    # The merged data and conflicts of each submission with its ancestors. S writes every
    # field it changes, so it is the one last writer of those (closing any conflict on them),
    # and the other fields keep base(S)'s values and conflicts: state(S) = base(S) with S's
    # writes. base(S) of an edit with one parent is then that parent's state, without walking
    # the writers again (the common case: a chain of edits), and a record with one head has
    # that head's state.
    state: dict[str, dict[str, Any]] = {}
    open_: dict[str, dict[str, list[Competing]]] = {}
    for s in order:
        children.update(s.parents)
        if len(s.parents) == 1:
            base, base_open = state[s.parents[0]], open_[s.parents[0]]
        elif s.parents:
            base, base_open = _state_of(s.parents, ancestry, writers)
        else:
            base, base_open = {}, {}
        mine = dict(base)
        written = []
        if s.parents:
            for f, v in s.data.items():
                if f in s.resolves or not same_value(v, base.get(f)):
                    writers.setdefault(f, []).append((s, v))
                    mine[f] = v
                    written.append(f)
        else:  # a root: its base is empty, so it writes every non-null value
            for f, v in s.data.items():
                if v is not None or f in s.resolves:
                    writers.setdefault(f, []).append((s, v))
                    mine[f] = v
                    written.append(f)
        for f in s.resolves - s.data.keys():
            writers.setdefault(f, []).append((s, base.get(f)))
            mine[f] = base.get(f)
            written.append(f)
        state[s.id] = mine
        open_[s.id] = (
            {f: c for f, c in base_open.items() if f not in written} if base_open else base_open
        )
    heads = [s.id for s in order if s.id not in children]
    if len(heads) == 1:
        data, conflicts = state[heads[0]], open_[heads[0]]
    else:
        data, conflicts = _state_of(heads, ancestry, writers)
    return Merged(
        data={f: v for f, v in sorted(data.items()) if v is not None},
        conflicts=dict(sorted(conflicts.items())),
        heads=sorted(heads),
        merged=[s.id for s in order],
        pending=set(subs) - set(state),
        flags=[CLOCK_SKEW] if any(s.skewed for s in order) else [],
    )
