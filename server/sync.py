"""Push: store a batch of items, each checked on its own (server/item.py), and rebuild the
records it touched (a supervisor's resolution, which is a submission too, is server/resolve.py).

Plan, then apply: `prepare` checks one item with no I/O; `push` decides duplicates, areas
and parents inside one write transaction, inserts, and `rebuild` derives each touched
record's state with the pure merge engine. The stored state of a record is always
`merge(its stored submissions)`.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import msgspec

from server import areas
from server.derive import rebuild
from server.item import Prepared, _reject, encode, hash_now, now_iso, prepare
from server.protocol import FieldError, ItemResult, Submission
from server.store import Store
from server.store_schema import SubmissionRow, User
from server.store_write import Writer

if TYPE_CHECKING:
    from server.catalog import Catalog

# Submissions of one record that may wait for their parents at once: each edit of a record
# with some waiting merges its whole history again, and thousands (parents that never come)
# made every write of the server wait behind one record's.
MAX_WAITING = 1000
# Submissions one record may hold (resolutions counted) for a phone's to be taken; a
# supervisor's resolution always is, and may set any field. An
# edit that does not descend from the heads merges the history again in the write lock, and a
# phone settles a conflict by naming every head. 11,000 sibling edits of one case made each
# new edit hold every other phone's push for seconds, and a conflict no one could settle.
MAX_RECORD_SUBMISSIONS = 2000


def push(
    store: Store,
    catalog: Catalog,
    user: User,
    device_id: str,
    raws: Sequence[Any],
    *,
    msgpack: bool = False,
) -> list[ItemResult]:
    """Check, store and merge a batch; one result per item, in order. Durable on return."""
    decoder = (msgspec.msgpack.Decoder if msgpack else msgspec.json.Decoder)(Submission)
    received_ts = time.time()  # what `captured_at` is checked against (clock_skew)
    results: list[ItemResult | None] = [None] * len(raws)
    prepared: list[Prepared] = []
    for i, raw in enumerate(raws):
        p = prepare(catalog, decoder, raw, i, user, device_id, "", received_ts)
        if isinstance(p, Prepared):
            prepared.append(p)
        else:
            results[i] = p
    with store.write() as w:
        accepted = _admit(w, catalog, user, prepared, results)
        # the time they are stored at, taken under the lock: see Writer.received_now
        received_at = w.received_now(now_iso())
        for p in accepted:
            p.row.received_at = received_at
        w.insert_submissions([p.row for p in accepted])
        # A version published since the items were checked (they stay valid: versions never
        # change) may rename fields: records are merged under the latest names of now.
        catalog.reload()
        forms = {fid: catalog.get(fid) for fid in {p.row.form_id for p in accepted}}
        layout = {fid: fv.layout for fid, fv in forms.items() if fv is not None}
        new_rows: dict[str, list[SubmissionRow]] = {}
        for p in accepted:
            new_rows.setdefault(p.row.record_id, []).append(p.row)
        validated = {p.row.id: (p.data, p.captured_ns) for p in accepted}
        merged = rebuild(w, sorted(new_rows), layout, received_at, new_rows, validated)
        for p in accepted:
            m = merged.get(p.row.record_id)
            if m is None or p.row.id in m.pending:
                results[p.index] = ItemResult(p.row.id, "pending", p.row.record_id)
            elif m.conflicts:
                results[p.index] = ItemResult(
                    p.row.id, "conflict", p.row.record_id, conflicts=list(m.conflicts)
                )
            else:
                results[p.index] = ItemResult(p.row.id, "accepted", p.row.record_id)
        _conflicts_of_duplicates(w, user, results, merged)
        done = [r for r in results if r is not None]
        form_of = {p.index: p.row.form_id for p in prepared}
        w.audit(
            now_iso(),  # when stored: the log's times follow its order (received_at may not)
            user.id,
            device_id,
            "sync.push",
            None,
            encode(
                {
                    "items": [
                        _audited(r, form_of.get(i), raws[i], msgpack)
                        for i, r in enumerate(results)
                        if r
                    ]
                }
            ).decode(),
        )
    return done


# what the audit keeps of an id a refused item gave (one of 3 MB made a 9 MB audit entry)
AUDIT_TEXT = 200


def _short(text: str | None) -> str | None:
    return text if text is None or len(text) <= AUDIT_TEXT else text[:AUDIT_TEXT] + "…"


class _FormOf(msgspec.Struct):
    form_id: Any = None


def _audited(r: ItemResult, form_id: str | None, raw: Any, msgpack: bool) -> dict[str, Any]:
    """What the audit log keeps of a push item: which submission of which record of which form
    (a refused one's as far as it reads: what an officer tried to change in another area), and
    what became of it."""
    if form_id is None:  # refused before it was read in full
        codec = msgspec.msgpack if msgpack else msgspec.json
        with contextlib.suppress(msgspec.DecodeError, RecursionError, UnicodeDecodeError):
            form_id = codec.decode(raw, type=_FormOf).form_id
    entry: dict[str, Any] = {
        "id": _short(r.id),
        "status": r.status,
        "record_id": _short(r.record_id),
        "form_id": _short(form_id) if isinstance(form_id, str) else None,
    }
    if r.reason:
        entry["reason"] = r.reason
    return entry


class _Conflict(msgspec.Struct):
    field: str


class _Conflicts(msgspec.Struct):
    area: str
    conflicts: list[_Conflict] = []


def _conflicts_of_duplicates(
    w: Writer, user: User, results: list[ItemResult | None], merged: Mapping[str, Any]
) -> None:
    """A `duplicate` (an item sent again: the answer to it was lost) says which fields of its
    record are in conflict now, as `conflict` did: a phone must not show a field as settled
    because the answer that said otherwise never came. Only to a user who reaches the record:
    what another area's record holds now is never told (a record merged in this batch was
    reached by an item of this user's)."""
    records = {r.record_id for r in results if r is not None and r.status == "duplicate"}
    records.discard(None)
    if not records:
        return
    fields = {rid: list(m.conflicts) for rid, m in merged.items() if rid in records}
    stored = w.records_docs(sorted(r for r in records if r is not None and r not in fields))
    for rid, doc in stored.items():
        state = msgspec.json.decode(doc, type=_Conflicts)
        if areas.reaches(user.role, user.area, state.area):
            fields[rid] = [c.field for c in state.conflicts]
    for i, r in enumerate(results):
        now = fields.get(r.record_id or "") if r is not None and r.status == "duplicate" else None
        if r is not None and now:
            results[i] = ItemResult(r.id, r.status, r.record_id, conflicts=now)


def _admit(
    w: Writer,
    catalog: Catalog,
    user: User,
    prepared: list[Prepared],
    results: list[ItemResult | None],
) -> list[Prepared]:
    """Decide duplicates, id reuse, parents in other records and area rules, in batch order."""
    stored = w.content_hashes([p.row.id for p in prepared])
    edited = sorted({p.row.record_id for p in prepared if not p.creating})
    # A record's form and area are its root's. Edits of a record whose root has not come yet
    # are stored pending; when it comes, `rebuild` merges those of its form by users whose
    # area contains it (a pending edit never decides the form or the area).
    owners: dict[str, tuple[str, str]] = dict(w.record_heads(edited))
    parent_homes = {
        pid: rec
        for pid, (_, rec) in w.content_hashes(
            sorted({pid for p in prepared for pid in p.parents})
        ).items()
    }
    # parents of the record's submissions that could name one not stored yet: those stored
    # while the record has some waiting, and the batch's, for `_closes_cycle`
    links = w.waiting_parents(edited)
    counts = w.submission_counts(edited)
    waiting = {rid: _waiting(known) for rid, known in links.items()}
    named = {rid: {p for ps in known.values() for p in ps} for rid, known in links.items()}
    batch: dict[str, Prepared] = {}
    for p in prepared:
        if p.creating and p.row.record_id not in owners:
            owners[p.row.record_id] = (p.row.form_id, p.row.area)
    accepted = []

    def refuse(p: Prepared, reason: str, where: str, code: str, message: str) -> None:
        results[p.index] = _reject(
            p.row.id,
            p.row.record_id,
            reason,
            [FieldError(f"submissions[{p.index}].{where}", code, message)],
        )

    for p in prepared:
        row = p.row
        seen = stored.get(row.id) or (
            (batch[row.id].row.content_hash, batch[row.id].row.record_id)
            if row.id in batch
            else None
        )
        if seen is not None:
            if seen[0] == row.content_hash or (
                row.id in stored and _same_now(w, catalog, row.id, row.content_hash)
            ):
                results[p.index] = ItemResult(row.id, "duplicate", seen[1])
            else:
                refuse(p, "id_reused", "id", "id_reused", "this id was stored with other content")
            continue
        if p.timed_out:
            results[p.index] = _reject(row.id, row.record_id, "invalid", p.timed_out)
            continue
        if p.creating and user.area == "":
            # a record belongs to its creator's area: one of no area no supervisor would see
            message = "a user of all areas (an admin) edits records, but cannot create one"
            refuse(p, "forbidden", "record_id", "forbidden", message)
            continue
        owner = owners.get(row.record_id)
        # the area first: another area's record says nothing of itself, not even its form
        if owner is not None and not areas.reaches(user.role, user.area, owner[1]):
            refuse(p, "forbidden", "record_id", "forbidden", "this record is outside your area")
            continue
        if owner is not None and owner[0] != row.form_id:
            message = f"record {row.record_id} is a {owner[0]} record"
            refuse(p, "invalid", "record_id", "form_mismatch", message)
            continue
        homes = {
            parent_homes.get(pid) or (batch[pid].row.record_id if pid in batch else row.record_id)
            for pid in p.parents
        }
        if homes - {row.record_id}:
            refuse(p, "invalid", "parents", "other_record", "a parent belongs to another record")
            continue
        known = links.setdefault(row.record_id, {})
        names = named.setdefault(row.record_id, set())
        if p.parents and row.id in names and _closes_cycle(row.id, p.parents, known):
            message = "a parent descends from this submission: it could never be merged"
            refuse(p, "invalid", "parents", "cycle", message)
            continue
        if counts.get(row.record_id, 0) >= MAX_RECORD_SUBMISSIONS:
            message = (
                f"this record holds {MAX_RECORD_SUBMISSIONS} submissions, the most one may:"
                " ask a supervisor"
            )
            refuse(p, "invalid", "record_id", "record_full", message)
            continue
        held = waiting.setdefault(row.record_id, set())
        # it waits if a parent is not here (nor stored, nor earlier in the batch) or waits
        waits = any(
            q in held or (q not in known and q not in parent_homes and q not in batch)
            for q in p.parents
        )
        if waits and len(held) >= MAX_WAITING:
            message = (
                f"{MAX_WAITING} submissions of this record already wait for their parents:"
                " send those parents first"
            )
            refuse(p, "invalid", "parents", "too_many_pending", message)
            continue
        if waits:
            held.add(row.id)
        known[row.id] = list(p.parents)
        names.update(p.parents)
        counts[row.record_id] = counts.get(row.record_id, 0) + 1
        batch[row.id] = p
        accepted.append(p)
    return accepted


def _same_now(w: Writer, catalog: Catalog, sid: str, content_hash: str) -> bool:
    """Whether submission `sid`, stored with another content hash, is this content after all:
    stored by a coso whose canonical form was another, and checked again now."""
    stored = w.submission_rows([sid]).get(sid)
    return stored is not None and hash_now(catalog, stored) == content_hash


def _waiting(known: dict[str, list[str]]) -> set[str]:
    """Which of a record's stored submissions (`known`: id -> parents) wait for a parent: one
    not stored, or one that waits itself (O(n), over the children of each)."""
    children: dict[str, list[str]] = {}
    todo = []
    for sid, parents in known.items():
        for q in parents:
            children.setdefault(q, []).append(sid)
            if q not in known:
                todo.append(sid)
    held: set[str] = set()
    while todo:
        sid = todo.pop()
        if sid not in held:
            held.add(sid)
            todo.extend(children.get(sid, ()))
    return held


def _closes_cycle(sid: str, parents: Sequence[str], known: dict[str, list[str]]) -> bool:
    """Whether `sid` is an ancestor of its own `parents` through `known` (id -> parents of the
    record's submissions that may name one not stored): only possible when one of them names
    `sid` (the caller knows it from the set of the names), so the walk, over each of them at
    most once, is rarely taken."""
    seen: set[str] = set()
    todo = list(parents)
    while todo:
        current = todo.pop()
        if current == sid:
            return True
        if current not in seen:
            seen.add(current)
            todo.extend(known.get(current, ()))
    return False
