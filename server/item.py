"""One pushed item checked on its own, with no I/O: `prepare` gives the row to store (made
by `stored_row`, with the content hash that tells a duplicate from a reused id) or the item's
rejection, with the path of what is wrong, however the item fails to decode. Also what stored
rows are made with: the sorted JSON encoding (`encode`), the server's times (`now_iso`) and
ids (`uuid7`).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, overload

import msgspec

from server.errors import bilingual_errors, msgspec_code, msgspec_path, msgspec_where, shape_errors
from server.protocol import (
    LONE_SURROGATE,
    FieldError,
    ItemResult,
    Submission,
    first_path,
    lone_surrogate_in,
    lone_surrogate_path,
    worth_rereading,
)
from server.split import top_ident
from server.store_schema import SubmissionRow, User
from server.validate import key_path, rfc3339_ns

if TYPE_CHECKING:
    from server.catalog import Catalog

UUID_RE = re.compile(
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\Z"
)
SKEW_SECONDS = 86_400
# what decoding one item may raise: RecursionError past ~1,000 levels of nesting, and
# UnicodeDecodeError for a MessagePack str that is not UTF-8
_UNREADABLE = (msgspec.ValidationError, msgspec.DecodeError, UnicodeDecodeError, RecursionError)
# An edit names the record's heads as the phone had them: as many as concurrent edits made.
# 100 left a record with more uneditable from the app (its edits refused, a supervisor's
# resolution taken); a phone adds to a record of at most 2,000 submissions (sync.py), so no
# more heads than that, and a bound stays on what one item may make the merge walk (26
# edits of 10,000 made-up parents each made a push hold the write lock for minutes).
MAX_PARENTS = 2_000
encode = msgspec.json.Encoder(order="sorted").encode


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
    """A rejection; its ids in their canonical form, lowercase, whatever was wrong (an item
    that did not decode echoed them as sent)."""
    return ItemResult(
        id=_canonical(sid),
        status="rejected",
        record_id=_canonical(record_id),
        reason=reason,
        errors=bilingual_errors(errors),
    )


@overload
def _canonical(uuid: str) -> str: ...
@overload
def _canonical(uuid: None) -> None: ...
def _canonical(uuid: str | None) -> str | None:
    """A UUID lowercase, as ids are compared and answered; anything else as it is."""
    return uuid.lower() if isinstance(uuid, str) and UUID_RE.match(uuid) else uuid


def _msgspec_error(
    exc: msgspec.ValidationError | msgspec.DecodeError, prefix: str, decoder: Any, raw: Any
) -> FieldError:
    message, where = msgspec_where(exc)
    if where.startswith(".data[...]"):  # msgspec does not name the key: find it
        where = ".data" + _data_key_path(decoder, raw) + where[len(".data[...]") :]
    path = prefix + where
    if not isinstance(exc, msgspec.ValidationError):  # a ValidationError is a DecodeError too
        return FieldError(path, "malformed", message)
    return FieldError(msgspec_path(path, message), msgspec_code(message), message)


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
        text = not deep and _codec(decoder) is msgspec.json
        lone = lone_surrogate(raw) if text else None
        odd = non_finite(raw, at) if text and lone is None else None
        if isinstance(exc, RecursionError):  # past what the decoder follows (~1,000 levels)
            error = FieldError(at, "too_deep", "nested too deep to read")
        elif isinstance(exc, UnicodeDecodeError):  # a MessagePack str that is not UTF-8
            error = FieldError(at, "malformed", f"text that is not UTF-8: {exc.reason}")
        elif lone is not None:
            (sid, rid), where = lone
            error = FieldError(at + where, "malformed", LONE_SURROGATE)
        elif odd is not None:
            (sid, rid), where = odd
            error = FieldError(
                where, "malformed", "NaN and Infinity are not JSON: send a number, or null"
            )
        else:
            error = _msgspec_error(exc, at, decoder, raw)
            if isinstance(exc, msgspec.ValidationError):  # every one, not only the first
                msgpack = _codec(decoder) is msgspec.msgpack
                return _reject(
                    sid,
                    rid,
                    "invalid",
                    shape_errors(Submission, raw, msgpack=msgpack, prefix=at, first=error),
                )
        return _reject(sid, rid, "invalid", [error])
    errors: list[FieldError] = []
    sid = _canonical(item.id)
    if not UUID_RE.match(item.id):
        errors.append(
            FieldError(f"{at}.id", "format", "Mã (id) phải là một UUID / id must be a UUID")
        )
    record_id = item.record_id.lower() if item.record_id is not None else sid
    if item.record_id is not None and not UUID_RE.match(item.record_id):
        errors.append(
            FieldError(
                f"{at}.record_id",
                "format",
                "Mã hồ sơ (record_id) phải là một UUID / record_id must be a UUID",
            )
        )
        record_id = item.record_id
    given = item.parents or []
    parents = tuple(sorted({p.lower() for p in given}))
    for j, p in enumerate(given):
        if not UUID_RE.match(p):
            errors.append(
                FieldError(
                    f"{at}.parents[{j}]",
                    "format",
                    "Mỗi bản cha là mã UUID của một bản gửi / a parent is a submission UUID",
                )
            )
    if len(parents) > MAX_PARENTS:
        errors.append(
            FieldError(
                f"{at}.parents",
                "max_items",
                f"Tối đa {MAX_PARENTS} bản cha / at most {MAX_PARENTS} parents",
            )
        )
    creating = record_id == sid
    if creating and parents:
        errors.append(
            FieldError(
                f"{at}.parents",
                "invalid",
                "Hồ sơ mới không có bản cha / a new record has no parents",
            )
        )
    if not creating and not parents:
        errors.append(
            FieldError(
                f"{at}.parents",
                "required",
                "Bản sửa phải nêu các bản nó được sửa từ (parents)"
                " / an edit names the heads it had",
            )
        )
    if sid in parents:
        errors.append(
            FieldError(
                f"{at}.parents",
                "cycle",
                "Một bản gửi không thể là bản cha của chính nó"
                " / a submission is not its own parent",
            )
        )
    captured_ns = rfc3339_ns(item.captured_at)
    if captured_ns is None:
        errors.append(
            FieldError(
                f"{at}.captured_at",
                "format",
                "Thời điểm ghi phải theo RFC 3339, có múi giờ"
                " / expected an RFC 3339 time with offset",
            )
        )
    if errors or captured_ns is None:
        return _reject(sid, record_id, "invalid", errors)
    fv = catalog.get(item.form_id)
    if fv is None:
        return _reject(
            sid,
            record_id,
            "unknown_form",
            [
                FieldError(
                    f"{at}.form_id",
                    "unknown_form",
                    f"Không có biểu mẫu {item.form_id!r} / no form {item.form_id!r}",
                )
            ],
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
                    f"Biểu mẫu {item.form_id} chỉ có phiên bản 1 đến {fv.latest} / "
                    f"{item.form_id} has versions 1 to {fv.latest}",
                )
            ],
        )
    validator = fv.validators[item.form_version - 1]
    data, errors = validator(item.data, creating=creating, path=f"{at}.data")
    asked = item.resolves or []
    resolves = sorted(set(asked))
    if resolves:
        known = {f.name for f in fv.accepted[item.form_version - 1].fields}
        for j, name in enumerate(asked):
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
        content_hash=content_hash(
            form_id, form_version, record_id, parents, captured_at, data_bytes, resolves
        ),
        note=note,
    )


def content_hash(
    form_id: str,
    form_version: int,
    record_id: str,
    parents: Sequence[str],
    captured_at: str,
    data: bytes,
    resolves: Sequence[str],
) -> str:
    """What decides `duplicate` from `id_reused`: the hash of a submission's content, its data
    as checked (`data`: encoded, in canonical form)."""
    content = encode(  # embedding the encoded data gives the same bytes without a 2nd pass
        [form_id, form_version, record_id, parents, captured_at, msgspec.Raw(data), resolves]
    )
    return hashlib.sha256(content).hexdigest()[:32]


def hash_now(catalog: Catalog, row: SubmissionRow) -> str | None:
    """The content hash of a stored submission as this coso would make it: its data checked
    again, so that one stored before a change of the canonical form (whole numbers kept as
    integers, one order of a select_multiple's choices) is still the same content when sent
    again. None when its data would not pass now."""
    fv = catalog.get(row.form_id)
    if fv is None or not 1 <= row.form_version <= fv.latest:
        return None
    validator = fv.validators[row.form_version - 1]
    data, errors = validator(msgspec.json.decode(row.data), creating=row.record_id == row.id)
    if errors:
        return None
    parents, resolves = msgspec.json.decode(row.parents), msgspec.json.decode(row.resolves)
    return content_hash(
        row.form_id, row.form_version, row.record_id, parents, row.captured_at, encode(data),
        resolves,
    )  # fmt: skip


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


def _ident(sid: Any, record_id: Any) -> tuple[str | None, str | None]:
    """(id, record_id) of an item that does not decode as a whole, where they are text: the
    record_id of one with none (absent or null) is its id (it would have made a new record)."""
    sid = sid if isinstance(sid, str) and lone_surrogate_path(sid) is None else None
    if record_id is None:
        return sid, sid
    return sid, (
        record_id if isinstance(record_id, str) and lone_surrogate_path(record_id) is None else None
    )


def lone_surrogate(raw: Any) -> tuple[tuple[str | None, str | None], str] | None:
    """((id, record_id), the path of the first text in it) holding a lone UTF-16 surrogate
    escape ("\\ud83d"), which msgspec refuses as a whole and the standard parser reads; None
    for an item with none."""
    found = lone_surrogate_in(raw)
    if found is None:
        return None
    item, path = found
    if not isinstance(item, dict):
        return (None, None), path
    return _ident(item.get("id"), item.get("record_id")), path


class _Constant:
    """NaN, Infinity or -Infinity where the standard parser read one."""


def non_finite(raw: Any, at: str) -> tuple[tuple[str | None, str | None], str] | None:
    """((id, record_id), path) of an item that is JSON but for a NaN, Infinity or -Infinity
    (what Python's json.dumps writes for float('nan')), with the path of the first; None for
    any other item. What msgspec refuses as a whole, read by the standard parser to say
    where (only when such a word is in it at all)."""
    text = bytes(raw)
    if not worth_rereading(text, constant=True):
        return None
    try:
        item = json.loads(text, parse_constant=lambda _: _Constant())
    except (ValueError, RecursionError):
        return None
    if not isinstance(item, dict):
        return None
    ident = _ident(item.get("id"), item.get("record_id"))
    found = first_path(item, lambda v: isinstance(v, _Constant))
    if found is None:
        return None
    path = at
    for key in found:
        path = f"{path}[{key}]" if isinstance(key, int) else key_path(path, key)
    return ident, path


def decoder_ident(decoder: Any, raw: Any) -> tuple[str | None, str | None]:
    """(id, record_id) of an item that does not decode as a whole, where they are strings: the
    record_id of one with none is its id (it would have made a new record)."""
    ident = _codec(decoder).decode(raw, type=_Ident)
    return _ident(ident.id, ident.record_id)
