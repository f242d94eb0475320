"""The wire format of the coso API: msgspec structs for requests, responses and errors.

This module imports nothing of ours; every other module may import it. Field names and
shapes follow PROTOCOL.md. New fields get defaults and types never change, because old
phones run old clients for months.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta, Struct

Role = Literal["officer", "supervisor", "admin"]
ROLES: tuple[Role, ...] = ("officer", "supervisor", "admin")
Status = Literal["accepted", "duplicate", "conflict", "pending", "rejected"]

MAX_BATCH_ITEMS = 1000
MAX_BODY_BYTES = 10 * 1024 * 1024
# a form definition's, by the API or `coso forms publish` (the largest shipped form is 8 KB)
MAX_FORM_BYTES = 2 * 1024 * 1024


class Label(Struct, forbid_unknown_fields=True):
    # "" as "   ": `required` at its path (forms._check_label), not msgspec's "Expected `str`
    # of length >= 1" under `invalid`
    vi: str
    en: str


class FieldError(Struct, omit_defaults=True):
    """One problem, with a path into the request (`submissions[3].data.parties[1].age`)."""

    path: str
    code: str
    message: str


class Problem(Struct, omit_defaults=True):
    """RFC 9457 problem details; `code` and `errors` are our extension members."""

    type: str
    title: str
    status: int
    detail: str
    code: str | None = None
    errors: list[FieldError] | None = None


# --- forms -----------------------------------------------------------------------------


class FormSummary(Struct):
    form_id: str
    version: int
    title: Label
    sha256: str
    sync_to_devices: bool = False


class FormManifest(Struct):
    forms: list[FormSummary]


class PublishResult(Struct):
    form_id: str
    version: int
    sha256: str


# --- push ------------------------------------------------------------------------------


class PushEnvelope(Struct, forbid_unknown_fields=True):
    """The batch; each item is decoded on its own so that one bad item costs nothing else.
    A key it does not have is `unknown_field`, as in an item or a resolution, but for those
    the app's outbox file adds beside the batch (its "Lưu hộp thư đi ra tệp" / save the outbox
    to a file), which is a push body as it is: read past, never stored."""

    device_id: Annotated[str, Meta(min_length=1, max_length=200)]
    submissions: list[msgspec.Raw]  # at most MAX_BATCH_ITEMS, checked for a 413
    exported_at: Any = None
    rejected: Any = None
    held: Any = None
    drafts: Any = None


class Submission(Struct, forbid_unknown_fields=True):
    id: str
    form_id: str
    form_version: int
    captured_at: str
    data: dict[str, Any]
    record_id: str | None = None
    # null is none, as absent is (a client's "no value" for a list: `None` in Python)
    parents: list[str] | None = None
    resolves: list[str] | None = None


class ItemResult(Struct, omit_defaults=True):
    id: str | None
    status: Status
    record_id: str | None  # always sent: null only for an item too broken to name one
    errors: list[FieldError] | None = None
    conflicts: list[str] | None = None
    reason: str | None = None  # for `rejected`: unknown_form, unknown_version, invalid, ...


class PushResponse(Struct):
    results: list[ItemResult]
    server_time: str


# --- records ---------------------------------------------------------------------------


class ConflictValue(Struct, omit_defaults=True):
    value: Any
    submission_id: str
    device_id: str
    captured_at: str
    # who wrote it, in GET /records/{id} (a phone's device id names no one); not stored
    user: str | None = None
    user_id: int | None = None


class Conflict(Struct):
    field: str
    values: list[ConflictValue]


class Record(Struct):
    record_id: str
    form_id: str
    form_version: int
    area: str
    data: dict[str, Any]
    heads: list[str]
    revision: int
    conflicts: list[Conflict]
    updated_at: str
    flags: list[str] = msgspec.field(default_factory=list)
    created_at: str = ""


class RecordPage(Struct):
    records: list[Record]
    next: str
    more: bool


class StoredSubmission(Struct):
    id: str
    record_id: str
    form_id: str
    form_version: int
    parents: list[str]
    captured_at: str
    received_at: str
    device_id: str
    user: str
    data: dict[str, Any]
    resolves: list[str]
    status: Literal["merged", "pending"]
    note: str | None = None
    user_id: int | None = None  # names are not unique


class RecordDetail(Record):
    submissions: list[StoredSubmission] = msgspec.field(default_factory=list)


class ConflictList(Struct):
    records: list[Record]
    next: str
    more: bool


class ResolveRequest(Struct, forbid_unknown_fields=True):
    heads: Annotated[list[str], Meta(min_length=1)]
    values: dict[str, Any]
    note: Annotated[str, Meta(max_length=4000)] | None = None


class ResolveResponse(Struct):
    submission_id: str
    record: Record


# --- users and audit -------------------------------------------------------------------


class Me(Struct):
    name: str
    role: Role
    area: str
    area_name: str | None
    user_id: int  # two users may share a name, role and area (the phone tells them apart)


class AuditEntry(Struct):
    seq: int
    at: str
    user: str | None
    user_id: int | None  # names are not unique: two officers may both be "lan"
    device_id: str | None
    action: str
    target: str | None
    detail: Any


class AuditPage(Struct):
    entries: list[AuditEntry]
    next: str
    more: bool


class Health(Struct):
    status: Literal["ok"]
    database: str


# JavaScript's JSON.stringify writes text cut inside an emoji as half of a surrogate pair
# ("\ud83d"): msgspec refuses the whole document, Python's json reads it, and it is no text.
LONE_SURROGATE = (
    "Có ký tự hỏng: nửa cặp ký tự UTF-16 (một biểu tượng cảm xúc bị cắt đôi) / "
    "text with half of a UTF-16 surrogate pair (an emoji cut in two) is not text"
)


# a UTF-16 surrogate written as a JSON escape (a pair, or half of one): what msgspec may refuse
SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")
# The most of a body (or an item) read again by the standard parser to say where msgspec's
# refusal lies (a lone surrogate, NaN): json.loads holds the interpreter while it reads, some
# 0.4 s and 90 MB a MiB of numbers, every other request waiting. Our app never sends either,
# and a batch of 100 items is some 100-300 KB; past this a body is refused as a whole.
MAX_REREAD = 1024 * 1024


def worth_rereading(text: bytes, *, surrogate: bool = False, constant: bool = False) -> bool:
    """Whether a body (or an item) msgspec refused is worth reading again with the standard
    parser: no larger than MAX_REREAD, and holding what that parser reads and msgspec does
    not: a surrogate escape (`surrogate`), NaN or Infinity (`constant`)."""
    if len(text) > MAX_REREAD:
        return False
    return (surrogate and SURROGATE_ESCAPE.search(text) is not None) or (
        constant and (b"NaN" in text or b"Infinity" in text)
    )


def lone_surrogate_in(raw: Any) -> tuple[Any, str] | None:
    """(the document, the path of its text holding a lone surrogate escape) of JSON text
    (bytes or a msgspec.Raw) that the standard library's parser reads, though msgspec does
    not; None when it is not such JSON or holds none."""
    text = bytes(memoryview(raw))
    if not worth_rereading(text, surrogate=True):
        return None
    try:
        doc = json.loads(text)
    except (ValueError, RecursionError):
        return None
    path = lone_surrogate_path(doc)
    return None if path is None else (doc, path)


def first_path(
    value: Any, hit: Callable[[Any], bool], hit_key: Callable[[str], bool] | None = None
) -> list[str | int] | None:
    """The keys and indices down to the first value in a JSON-like value that `hit` takes, or
    to the object with a key `hit_key` takes; None when none. Depth first, in order, with no
    recursion and memory for the depth only (a path for every value of a 10 MiB list took
    over a gigabyte)."""
    if hit(value):
        return []
    if (
        hit_key is not None
        and isinstance(value, dict)
        and any(isinstance(k, str) and hit_key(k) for k in value)
    ):
        return []
    keys: list[str | int] = []
    stack: list[Iterator[tuple[Any, Any]]] = []
    if isinstance(value, dict):
        stack.append(iter(value.items()))
    elif isinstance(value, list):
        stack.append(enumerate(value))
    while stack:
        step = next(stack[-1], None)
        if step is None:
            stack.pop()
            if keys:
                keys.pop()
            continue
        key, item = step
        if hit(item):
            return [*keys, key]
        if isinstance(item, dict):
            if hit_key is not None and any(isinstance(k, str) and hit_key(k) for k in item):
                return [*keys, key]
            stack.append(iter(item.items()))
            keys.append(key)
        elif isinstance(item, list):
            stack.append(enumerate(item))
            keys.append(key)
    return None


def lone_surrogate_path(value: Any) -> str | None:
    """The path (`.data.a`, `[2].b`; "" for `value` itself) of the first text in a JSON-like
    value that holds a lone UTF-16 surrogate, or of the object whose key does; None when no
    text does. The one check for pushes, resolutions, definitions and any other body."""

    def lone(text: str) -> bool:
        return any("\ud800" <= c <= "\udfff" for c in text)

    found = first_path(value, lambda v: isinstance(v, str) and lone(v), lone)
    if found is None:
        return None
    return "".join(f"[{k}]" if isinstance(k, int) else f".{k}" for k in found)
