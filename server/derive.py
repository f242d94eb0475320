"""Records derived from their stored submissions: the state of each record is always the
pure merge (server/merge.py) of its stored submissions under the latest field names.

`rebuild` is the one place that writes records: it merges afresh where it must, applies an
edit of the current heads to the stored state where it can (`_advance`), and gives every
changed record the next change sequence value.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import msgspec

from server import areas
from server.merge import CLOCK_SKEW, Merged, Sub, merge, same_value
from server.protocol import Conflict, ConflictValue, Record
from server.store_schema import RecordRow, SubmissionRow
from server.store_write import Writer
from server.validate import instant_ns

# the choices of each select_multiple in the order its values are kept: latest name
# (`group.field` inside a repeat group) -> value -> rank
Orders = Mapping[str, Mapping[str, int]]
# form_id -> (old name -> latest name, latest version, select_multiple orders)
Layout = Mapping[str, tuple[Mapping[str, str], int, Orders]]
# submission id -> (its data as validated, captured_at in nanoseconds), for rows just stored
InHand = Mapping[str, tuple[dict[str, Any], int]]

_decode = msgspec.json.decode


class _Revision(msgspec.Struct):
    revision: int


def renamed(data: dict[str, Any], renames: Mapping[str, str]) -> dict[str, Any]:
    """`data` under the latest names, inside repeat groups too (`group.old` entries, and
    `group.inner.old` in a group inside a group)."""
    out = {}
    for key, value in data.items():
        key = renames.get(key, key)
        if type(value) is list and value and type(value[0]) is dict:
            prefix = key + "."
            inner = {o[len(prefix) :]: n for o, n in renames.items() if o.startswith(prefix)}
            if inner:
                value = [renamed(item, inner) if type(item) is dict else item for item in value]
        out[key] = value
    return out


def kept(data: dict[str, Any], orders: Orders, prefix: str = "") -> dict[str, Any]:
    """`data` stored by an older coso in the one spelling values are kept in now (what
    validate.py makes of what comes in): a select_multiple's choices in the order of the
    form's, a repeat group item without null entries. The same value, so the same for the
    merge: two phones that ticked the same boxes never conflict, whenever they were stored."""
    out = data
    for key, value in data.items():
        if type(value) is not list or not value:
            continue
        name = prefix + key
        rank = orders.get(name)
        if rank is not None:
            if all(type(v) is str for v in value) and len(set(value)) == len(value):
                ordered = sorted(value, key=lambda v: rank.get(v, len(rank)))
                if ordered != value:
                    out = dict(out) if out is data else out
                    out[key] = ordered
        elif type(value[0]) is dict:
            items = [
                kept({k: v for k, v in item.items() if v is not None}, orders, name + ".")
                if type(item) is dict
                else item
                for item in value
            ]
            if items != value:
                out = dict(out) if out is data else out
                out[key] = items
    return out


def _sub(
    row: SubmissionRow,
    renames: Mapping[str, str],
    latest: int,
    validated: InHand | None = None,
    orders: Orders | None = None,
) -> Sub:
    known = validated.get(row.id) if validated else None
    # a row just validated: its data and time as they were before encoding (the same values,
    # keys in the same order), instead of decoding and parsing them again
    data, captured_ns = known if known else (_decode(row.data), instant_ns(row.captured_at))
    if renames and row.form_version != latest:  # the latest names are never renamed away
        data = renamed(data, renames)
    if not known:  # a stored row, maybe stored before today's spelling (a select_multiple's
        # order, a null inside a repeat item: the latter in forms with no select_multiple too)
        data = kept(data, orders or {})
    return Sub(
        id=row.id,
        parents=() if row.parents == "[]" else tuple(_decode(row.parents)),
        data=data,
        captured_at=row.captured_at,
        captured_ts=captured_ns,  # exact, where row.captured_ts is a float
        device_id=row.device_id,
        resolves=(
            frozenset()
            if row.resolves == "[]"
            else frozenset(renames.get(f, f) for f in _decode(row.resolves))
        ),
        skewed=bool(row.skewed),
    )


def record_of(
    rid: str, rows: Sequence[SubmissionRow], m: Merged, latest: int, updated_at: str
) -> Record:
    root = next(r for r in rows if r.id == rid)
    return Record(
        record_id=rid,
        form_id=root.form_id,
        form_version=latest,
        area=root.area,
        data=m.data,
        heads=m.heads,
        revision=len(m.merged),
        conflicts=[
            Conflict(
                f,
                [ConflictValue(c.value, c.sub.id, c.sub.device_id, c.sub.captured_at) for c in cs],
            )
            for f, cs in m.conflicts.items()
        ],
        updated_at=updated_at,
        flags=m.flags,
        created_at=root.received_at,
    )


def _advance(
    record: Record,
    rows: Sequence[SubmissionRow],
    renames: Mapping[str, str],
    latest: int,
    now: str,
    validated: InHand | None = None,
    orders: Orders | None = None,
) -> Record | None:
    """The record after `rows`, when each row's parents are exactly the heads before it: then
    base(S) is the record's state, S writes the fields it changes or resolves, and each of
    those has S as its only last writer (closing any conflict on it) while every other field
    keeps its value and conflicts. That is rule 3 applied to the new heads, without reading
    the history. None when a row does not descend from all heads: the caller merges afresh."""
    heads, data = record.heads, dict(record.data)
    conflicts = {c.field: c for c in record.conflicts}
    revision, skewed = record.revision, bool(record.flags)
    for row in rows:
        s = _sub(row, renames, latest, validated, orders)
        if sorted(s.parents) != heads:
            return None
        for f, v in s.data.items():
            if f in s.resolves or not same_value(v, data.get(f)):
                conflicts.pop(f, None)
                if v is None:
                    data.pop(f, None)
                else:
                    data[f] = v
        for f in s.resolves - s.data.keys():
            conflicts.pop(f, None)
        heads, revision, skewed = [s.id], revision + 1, skewed or s.skewed
    return Record(
        record_id=record.record_id,
        form_id=record.form_id,
        form_version=latest,
        area=record.area,
        data=dict(sorted(data.items())),
        heads=heads,
        revision=revision,
        conflicts=[conflicts[f] for f in sorted(conflicts)],
        updated_at=now,
        flags=[CLOCK_SKEW] if skewed else [],
        created_at=record.created_at,
    )


def _record_row(w: Writer, record: Record, pending: int) -> RecordRow:
    return RecordRow(
        record.record_id,
        record.form_id,
        record.area,
        w.next_change_seq(),
        int(bool(record.conflicts)),
        msgspec.json.encode(record).decode(),
        pending,
    )


def rebuild(
    w: Writer,
    record_ids: Sequence[str],
    layout: Layout,
    now: str,
    new_rows: Mapping[str, Sequence[SubmissionRow]] | None = None,
    validated: InHand | None = None,
) -> dict[str, Merged]:
    """Derive the touched records from their stored submissions; write the ones that changed,
    each with the next change sequence value.

    `new_rows` (just stored, in batch order) lets an edit of a record's current heads be
    applied to the stored state (`_advance`) instead of merging the whole history again;
    the property tests check that both ways give the same record. `validated` spares decoding
    the new rows again."""
    new_rows = new_rows or {}
    stored = w.records_with_pending(record_ids)
    out: dict[str, Merged] = {}
    changed: list[RecordRow] = []
    slow, fresh = [], []
    for rid in record_ids:
        doc, pending = stored.get(rid, (None, None))
        rows = new_rows.get(rid)
        if doc is not None and pending == 0 and rows:
            before = _decode(doc, type=Record)
            renames, latest, orders = layout.get(before.form_id, ({}, before.form_version, {}))
            # a state derived under an older version may hold names renamed since (a renaming
            # publish derives its records anew a few hundred at a time): merged afresh then
            current = not renames or before.form_version == latest
            record = (
                _advance(before, rows, renames, latest, now, validated, orders) if current else None
            )
            if record is not None:
                out[rid] = Merged(
                    data=record.data,
                    conflicts={c.field: [] for c in record.conflicts},
                    heads=record.heads,
                )
                changed.append(_record_row(w, record, 0))
                continue
        slow.append(rid)
        if doc is None and rows:
            fresh.append(rid)
    # A record first seen in this batch, with no submission stored before it, is merged from
    # the rows in hand instead of reading them back.
    counts = w.submission_counts(fresh)
    in_hand = {rid for rid in fresh if counts.get(rid) == len(new_rows[rid])}
    subs = w.submissions_of([rid for rid in slow if rid not in in_hand])
    subs.update((rid, list(new_rows[rid])) for rid in in_hand)
    waiting: dict[str, int] = {}
    marked: list[tuple[str, str]] = []  # (record_id, doc): the same state, a newer version
    roles: dict[int, str] = {}
    for rid in slow:
        rows = subs[rid]
        if not rows:
            continue
        root = next((r for r in rows if r.id == rid), None)
        if root is not None:
            # Edits stored while the record was unknown (pending) count only if their author
            # may edit it: of its form, by a user who reaches the record's area. Those stored
            # before the root were never checked, and an author of an area above the record's
            # must not be an officer (areas.reaches). Those stored with it or since were
            # checked when they came, by the rule of that day: never dropped afterwards.
            unchecked = [r for r in rows if r.received_at < root.received_at]
            above = {r.user_id for r in unchecked if r.area != root.area} - roles.keys()
            roles.update(w.user_roles(sorted(above)))
            rows = [
                r
                for r in rows
                if r.form_id == root.form_id
                and areas.contains(r.area, root.area)
                and (
                    r.area == root.area
                    or r.received_at >= root.received_at
                    or roles.get(r.user_id) != "officer"
                )
            ]
        renames, latest, orders = layout.get(rows[0].form_id, ({}, rows[0].form_version, {}))
        m = merge(_sub(r, renames, latest, validated, orders) for r in rows)
        out[rid] = m
        if not m.merged:
            continue  # only pending submissions: no record yet
        pending = len(subs[rid]) - len(m.merged)
        record = record_of(rid, rows, m, latest, now)
        if rid in stored:
            doc, before_pending = stored[rid]
            # a new revision always changes the record: decode the whole old one only otherwise
            if _decode(doc, type=_Revision).revision == record.revision:
                before = _decode(doc, type=Record)
                was, before.updated_at = before.updated_at, now
                if before == record:
                    if before_pending != pending:
                        waiting[rid] = pending
                    continue
                before.form_version = record.form_version
                if before == record:
                    # Derived under a newer version (a renaming publish) and the same state: it
                    # says so, but is no change (no next change sequence value, no new
                    # `updated_at`), or every phone would pull every record of the form again.
                    record.updated_at = was
                    marked.append((rid, msgspec.json.encode(record).decode()))
                    if before_pending != pending:
                        waiting[rid] = pending
                    continue
        changed.append(_record_row(w, record, pending))
    w.upsert_records(changed)
    w.set_docs(marked)
    w.set_pending(waiting)
    return out
