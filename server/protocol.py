"""The wire format of the coso API: msgspec structs for requests, responses and errors.

This module imports nothing of ours; every other module may import it. Field names and
shapes follow PROTOCOL.md. New fields get defaults and types never change, because old
phones run old clients for months.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta, Struct

Role = Literal["officer", "supervisor", "admin"]
ROLES: tuple[Role, ...] = ("officer", "supervisor", "admin")
Status = Literal["accepted", "duplicate", "conflict", "pending", "rejected"]

MAX_BATCH_ITEMS = 1000
MAX_BODY_BYTES = 10 * 1024 * 1024


class Label(Struct, forbid_unknown_fields=True):
    vi: Annotated[str, Meta(min_length=1)]
    en: Annotated[str, Meta(min_length=1)]


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


class PushEnvelope(Struct):
    """The batch; each item is decoded on its own so that one bad item costs nothing else."""

    device_id: Annotated[str, Meta(min_length=1, max_length=200)]
    submissions: list[msgspec.Raw]  # at most MAX_BATCH_ITEMS, checked for a 413


class Submission(Struct, forbid_unknown_fields=True):
    id: str
    form_id: str
    form_version: int
    captured_at: str
    data: dict[str, Any]
    record_id: str | None = None
    parents: list[str] = msgspec.field(default_factory=list)
    resolves: list[str] = msgspec.field(default_factory=list)


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


class ConflictValue(Struct):
    value: Any
    submission_id: str
    device_id: str
    captured_at: str


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


def lone_surrogate_in(raw: Any) -> tuple[Any, str] | None:
    """(the document, the path of its text holding a lone surrogate escape) of JSON text
    (bytes or a msgspec.Raw) that the standard library's parser reads, though msgspec does
    not; None when it is not such JSON or holds none."""
    try:
        doc = json.loads(bytes(memoryview(raw)))
    except (ValueError, RecursionError):
        return None
    path = lone_surrogate_path(doc)
    return None if path is None else (doc, path)


def lone_surrogate_path(value: Any) -> str | None:
    """The path (`.data.a`, `[2].b`; "" for `value` itself) of the first text in a JSON-like
    value that holds a lone UTF-16 surrogate, or of the object whose key does; None when no
    text does. The one check for pushes, resolutions, definitions and any other body."""

    def lone(text: str) -> bool:
        return any("\ud800" <= c <= "\udfff" for c in text)

    todo: list[tuple[str, Any]] = [("", value)]
    while todo:
        path, item = todo.pop()
        if isinstance(item, str) and lone(item):
            return path
        if isinstance(item, dict):
            if any(isinstance(k, str) and lone(k) for k in item):
                return path  # a key: name the object that holds it
            todo.extend((f"{path}.{k}", v) for k, v in reversed(item.items()))
        elif isinstance(item, list):
            todo.extend((f"{path}[{i}]", v) for i, v in reversed(list(enumerate(item))))
    return None
