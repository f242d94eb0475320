"""Push: check each item, store it, and rebuild the records it touched (a supervisor's
resolution, which is a submission too, is server/resolve.py).

Plan, then apply: `prepare` checks one item with no I/O; `push` decides duplicates, areas
and parents inside one write transaction, inserts, and `rebuild` derives each touched
record's state with the pure merge engine. The stored state of a record is always
`merge(its stored submissions)`.
"""

from __future__ import annotations

import hashlib
import os
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import msgspec

from server import areas
from server.derive import rebuild
from server.errors import bilingual_errors
from server.protocol import (
    LONE_SURROGATE,
    FieldError,
    ItemResult,
    Submission,
    lone_surrogate_in,
    lone_surrogate_path,
)
from server.split import top_ident
from server.store import Store
from server.store_schema import SubmissionRow, User
from server.store_write import Writer
from server.validate import rfc3339_ns

if TYPE_CHECKING:
    from server.catalog import Catalog

UUID_RE = re.compile(
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\Z"
)
SKEW_SECONDS = 86_400
# what decoding one item may raise: RecursionError past ~1,000 levels of nesting, and
# UnicodeDecodeError for a MessagePack str that is not UTF-8
_UNREADABLE = (msgspec.ValidationError, msgspec.DecodeError, UnicodeDecodeError, RecursionError)
MAX_PARENTS = 100
encode = msgspec.json.Encoder(order="sorted").encode
_decode = msgspec.json.decode


class _Ident(msgspec.Struct):
    id: Any = None
    record_id: Any = None


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def uuid7() -> str:
    """A time-ordered UUID (version 7): 48 bits of milliseconds, then random bits."""
    ms = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")
    value = (
        (ms << 80)
        | (0x7 << 76)
        | ((rand >> 62) & 0xFFF) << 64
        | (0b10 << 62)
        | (rand & (2**62 - 1))
    )
    h = f"{value:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


@dataclass(slots=True)
class Prepared:
    index: int
    row: SubmissionRow
    creating: bool
    parents: tuple[str, ...]
    data: dict[str, Any]  # row.data before encoding, so that merging need not decode it again
    captured_ns: int
    # pattern matches the timeout stopped: the item is refused unless its id is stored with
    # this content (then it is a duplicate, as it was when it first came, on a quieter moment)
    timed_out: list[FieldError] | None = None


def _reject(
    sid: str | None, record_id: str | None, reason: str, errors: list[FieldError]
) -> ItemResult:
    return ItemResult(
        id=sid,
        status="rejected",
        record_id=record_id,
        reason=reason,
        errors=bilingual_errors(errors),
    )


def _msgspec_error(
    exc: msgspec.ValidationError | msgspec.DecodeError, prefix: str, decoder: Any, raw: Any
) -> FieldError:
    text = str(exc)
    if " - at `key` in `$" in text:  # a key of the wrong type: the object that holds it
        message, _, where = text.partition(" - at `key` in `$")
        message = f"a key: {message}"
    else:
        message, _, where = text.partition(" - at `$")
    where = where.rstrip("`")
    if where.startswith(".data[...]"):  # msgspec does not name the key: find it
        where = ".data" + _data_key_path(decoder, raw) + where[len(".data[...]") :]
    path = prefix + where
    code = "unknown_field" if "unknown field" in message else "invalid"
    if "missing required field" in message or code == "unknown_field":
        code = "required" if code == "invalid" else code
        field = message.rsplit("`", 2)[-2] if message.count("`") >= 2 else ""
        path = f"{path}.{field}" if field else path
    elif not isinstance(exc, msgspec.ValidationError):  # a ValidationError is a DecodeError too
        code = "malformed"
    elif "Expected" in message:
        code = "type"
    return FieldError(path, code, message)


def prepare(
    catalog: Catalog,
    decoder: Any,
    raw: Any,
    index: int,
    user: User,
    device_id: str,
    received_at: str,
    received_ts: float,
) -> Prepared | ItemResult:
    """Check one pushed item on its own: a Prepared row to store, or a rejection."""
    at = f"submissions[{index}]"
    try:
        item: Submission = decoder.decode(raw)
    except _UNREADABLE as exc:
        try:
            sid, rid = decoder_ident(decoder, raw)
        except RecursionError:  # nested past the decoder: its top level read without it
            sid, rid = top_ident(bytes(raw), msgpack=_codec(decoder) is msgspec.msgpack)
        except _UNREADABLE:
            sid = rid = None
        deep = isinstance(exc, RecursionError)
        lone = None if deep or _codec(decoder) is msgspec.msgpack else lone_surrogate(raw)
        if isinstance(exc, RecursionError):  # past what the decoder follows (~1,000 levels)
            error = FieldError(at, "too_deep", "nested too deep to read")
        elif isinstance(exc, UnicodeDecodeError):  # a MessagePack str that is not UTF-8
            error = FieldError(at, "malformed", f"text that is not UTF-8: {exc.reason}")
        elif lone is not None:
            sid, where = lone
            error = FieldError(at + where, "malformed", LONE_SURROGATE)
        else:
            error = _msgspec_error(exc, at, decoder, raw)
        return _reject(sid, rid, "invalid", [error])
    errors: list[FieldError] = []
    sid = item.id.lower() if UUID_RE.match(item.id) else item.id
    if not UUID_RE.match(item.id):
        errors.append(FieldError(f"{at}.id", "format", "id must be a UUID"))
    record_id = item.record_id.lower() if item.record_id is not None else sid
    if item.record_id is not None and not UUID_RE.match(item.record_id):
        errors.append(FieldError(f"{at}.record_id", "format", "record_id must be a UUID"))
        record_id = item.record_id
    parents = tuple(sorted({p.lower() for p in item.parents}))
    for j, p in enumerate(item.parents):
        if not UUID_RE.match(p):
            errors.append(
                FieldError(f"{at}.parents[{j}]", "format", "a parent is a submission UUID")
            )
    if len(parents) > MAX_PARENTS:
        errors.append(FieldError(f"{at}.parents", "max_items", f"at most {MAX_PARENTS} parents"))
    creating = record_id == sid
    if creating and parents:
        errors.append(FieldError(f"{at}.parents", "invalid", "a new record has no parents"))
    if not creating and not parents:
        errors.append(FieldError(f"{at}.parents", "required", "an edit names the heads it had"))
    if sid in parents:
        errors.append(FieldError(f"{at}.parents", "invalid", "a submission is not its own parent"))
    captured_ns = rfc3339_ns(item.captured_at)
    if captured_ns is None:
        errors.append(
            FieldError(f"{at}.captured_at", "format", "expected an RFC 3339 time with offset")
        )
    if errors or captured_ns is None:
        return _reject(sid, record_id, "invalid", errors)
    fv = catalog.get(item.form_id)
    if fv is None:
        return _reject(
            sid,
            record_id,
            "unknown_form",
            [FieldError(f"{at}.form_id", "unknown_form", f"no form {item.form_id!r}")],
        )
    if not 1 <= item.form_version <= fv.latest:
        return _reject(
            sid,
            record_id,
            "unknown_version",
            [
                FieldError(
                    f"{at}.form_version",
                    "unknown_version",
                    f"{item.form_id} has versions 1 to {fv.latest}",
                )
            ],
        )
    validator = fv.validators[item.form_version - 1]
    data, errors = validator(item.data, creating=creating, path=f"{at}.data")
    resolves = sorted(set(item.resolves))
    if resolves:
        known = {f.name for f in fv.defs[item.form_version - 1].fields}
        for j, name in enumerate(item.resolves):
            if name not in known:
                errors.append(
                    FieldError(f"{at}.resolves[{j}]", "unknown_field", f"no field {name!r}")
                )
    timed_out = None
    if errors:
        if any(e.code != "pattern_timeout" for e in errors):
            return _reject(sid, record_id, "invalid", errors)
        timed_out = errors
    row = stored_row(
        sid=sid,
        record_id=record_id,
        form_id=item.form_id,
        form_version=item.form_version,
        parents=parents,
        captured_at=item.captured_at,
        captured_ts=captured_ns / 1e9,
        data=data,
        resolves=resolves,
        device_id=device_id,
        user=user,
        received_at=received_at,
        skewed=captured_ns / 1e9 > received_ts + SKEW_SECONDS,
    )
    return Prepared(index, row, creating, parents, data, captured_ns, timed_out)


def stored_row(
    *,
    sid: str,
    record_id: str,
    form_id: str,
    form_version: int,
    parents: Sequence[str],
    captured_at: str,
    captured_ts: float,
    data: dict[str, Any],
    resolves: Sequence[str],
    device_id: str,
    user: User,
    received_at: str,
    skewed: bool,
    note: str | None = None,
) -> SubmissionRow:
    """A submission as stored, with the hash of its content (what decides `duplicate` from
    `id_reused`): form, version, record, parents, capture time, data and resolves."""
    data_bytes = encode(data)
    content = encode(  # embedding the encoded data gives the same bytes without a 2nd pass
        [form_id, form_version, record_id, parents, captured_at, msgspec.Raw(data_bytes), resolves]
    )
    return SubmissionRow(
        id=sid,
        record_id=record_id,
        form_id=form_id,
        form_version=form_version,
        parents=encode(parents).decode(),
        captured_at=captured_at,
        captured_ts=captured_ts,
        data=data_bytes.decode(),
        resolves=encode(resolves).decode(),
        device_id=device_id,
        user_id=user.id,
        area=user.area,
        received_at=received_at,
        skewed=int(skewed),
        content_hash=hashlib.sha256(content).hexdigest()[:32],
        note=note,
    )


class _DataKeys(msgspec.Struct):
    data: dict[str, msgspec.Raw] = {}


def _codec(decoder: Any) -> Any:
    """The msgspec module (json or msgpack) of a batch's item decoder."""
    return msgspec.msgpack if isinstance(decoder, msgspec.msgpack.Decoder) else msgspec.json


def _data_key_path(decoder: Any, raw: Any) -> str:
    """`.key` of the first value in an item's `data` that does not decode, or `[...]`."""
    codec = _codec(decoder)
    try:
        values = codec.decode(raw, type=_DataKeys).data
    except (msgspec.DecodeError, UnicodeDecodeError):
        return "[...]"
    for key, value in values.items():
        try:
            codec.decode(value)
        except (msgspec.DecodeError, UnicodeDecodeError, RecursionError):
            return f".{key}"
    return "[...]"


def lone_surrogate(raw: Any) -> tuple[str | None, str] | None:
    """(the item's id, the path of the first text in it) holding a lone UTF-16 surrogate
    escape ("\\ud83d"), which msgspec refuses as a whole and the standard parser reads; None
    for an item with none."""
    found = lone_surrogate_in(raw)
    if found is None:
        return None
    item, path = found
    ident = item.get("id") if isinstance(item, dict) else None
    ident = ident if isinstance(ident, str) and lone_surrogate_path(ident) is None else None
    return ident, path


def decoder_ident(decoder: Any, raw: Any) -> tuple[str | None, str | None]:
    """(id, record_id) of an item that does not decode as a whole, where they are strings: the
    record_id of one with none is its id (it would have made a new record)."""
    ident = _codec(decoder).decode(raw, type=_Ident)
    sid = ident.id if isinstance(ident.id, str) else None
    if ident.record_id is None:
        return sid, sid
    return sid, ident.record_id if isinstance(ident.record_id, str) else None


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
    received_at, received_ts = now_iso(), time.time()
    results: list[ItemResult | None] = [None] * len(raws)
    prepared: list[Prepared] = []
    for i, raw in enumerate(raws):
        p = prepare(catalog, decoder, raw, i, user, device_id, received_at, received_ts)
        if isinstance(p, Prepared):
            prepared.append(p)
        else:
            results[i] = p
    with store.write() as w:
        accepted = _admit(w, user, prepared, results)
        w.insert_submissions([p.row for p in accepted])
        # A version published since the items were checked (they stay valid: versions never
        # change) may rename fields: records are merged under the latest names of now.
        catalog.reload()
        forms = {fid: catalog.get(fid) for fid in {p.row.form_id for p in accepted}}
        layout = {fid: (fv.renames, fv.latest) for fid, fv in forms.items() if fv is not None}
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
        done = [r for r in results if r is not None]
        w.audit(
            received_at,
            user.id,
            device_id,
            "sync.push",
            None,
            encode(
                {
                    "items": [
                        [r.id, r.status, r.reason] if r.reason else [r.id, r.status] for r in done
                    ]
                }
            ).decode(),
        )
    return done


def _admit(
    w: Writer, user: User, prepared: list[Prepared], results: list[ItemResult | None]
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
    batch: dict[str, Prepared] = {}
    for p in prepared:
        if p.creating and p.row.record_id not in owners:
            owners[p.row.record_id] = (p.row.form_id, p.row.area)
    accepted = []
    for p in prepared:
        row, at = p.row, f"submissions[{p.index}]"
        seen = stored.get(row.id) or (
            (batch[row.id].row.content_hash, batch[row.id].row.record_id)
            if row.id in batch
            else None
        )
        if seen is not None:
            if seen[0] == row.content_hash:
                results[p.index] = ItemResult(row.id, "duplicate", seen[1])
            else:
                results[p.index] = _reject(
                    row.id,
                    row.record_id,
                    "id_reused",
                    [FieldError(f"{at}.id", "id_reused", "this id was stored with other content")],
                )
            continue
        if p.timed_out:
            results[p.index] = _reject(row.id, row.record_id, "invalid", p.timed_out)
            continue
        owner = owners.get(row.record_id)
        if owner is not None and owner[0] != row.form_id:
            results[p.index] = _reject(
                row.id,
                row.record_id,
                "invalid",
                [
                    FieldError(
                        f"{at}.record_id",
                        "form_mismatch",
                        f"record {row.record_id} is a {owner[0]} record",
                    )
                ],
            )
            continue
        if owner is not None and not areas.contains(user.area, owner[1]):
            results[p.index] = _reject(
                row.id,
                row.record_id,
                "forbidden",
                [FieldError(f"{at}.record_id", "forbidden", "this record is outside your area")],
            )
            continue
        homes = {
            parent_homes.get(pid) or (batch[pid].row.record_id if pid in batch else row.record_id)
            for pid in p.parents
        }
        if homes - {row.record_id}:
            results[p.index] = _reject(
                row.id,
                row.record_id,
                "invalid",
                [FieldError(f"{at}.parents", "other_record", "a parent belongs to another record")],
            )
            continue
        known = links.setdefault(row.record_id, {})
        if p.parents and _closes_cycle(row.id, p.parents, known):
            message = "a parent descends from this submission: it could never be merged"
            results[p.index] = _reject(
                row.id, row.record_id, "invalid", [FieldError(f"{at}.parents", "cycle", message)]
            )
            continue
        known[row.id] = list(p.parents)
        batch[row.id] = p
        accepted.append(p)
    return accepted


def _closes_cycle(sid: str, parents: Sequence[str], known: dict[str, list[str]]) -> bool:
    """Whether `sid` is an ancestor of its own `parents` through `known` (id -> parents of the
    record's submissions that may name one not stored): only possible when one of them names
    `sid`, so the walk, over each of them at most once, is rarely taken."""
    if not any(sid in ps for ps in known.values()):
        return False
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
