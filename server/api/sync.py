"""Device sync: push a batch of submissions, pull the follow-up records of one's area."""

from __future__ import annotations

import unicodedata
from typing import Annotated, Any

import msgspec
from anyio.to_thread import run_sync
from litestar import Request, Response, get, post
from litestar.params import FromQuery, QueryParameter

from server import cursor, sync
from server.api.body import (
    is_msgpack,
    one_at_a_time,
    parse,
    read_body,
    respond,
    split_json_batch,
    without_bom,
)
from server.api.deps import CatalogDep, StoreDep
from server.api.docs import JSON, MSGPACK, PUSH_EXAMPLE, ApiOperation, PushRequest, body, errors
from server.api.records import page_response
from server.auth import officer_or_above
from server.errors import Invalid, Malformed, TooLarge
from server.forms import nfc, shows_nothing, unseen
from server.item import now_iso
from server.protocol import (
    MAX_BATCH_ITEMS,
    MAX_BODY_BYTES,
    FieldError,
    ItemResult,
    PushEnvelope,
    PushResponse,
    RecordPage,
)
from server.split import split_deep_batch


@post(
    "/sync/push",
    guards=[officer_or_above],
    status_code=200,
    operation_class=body(PushRequest, JSON, MSGPACK, example=PUSH_EXAMPLE),
    responses=errors(400, 408, 413, 415, 422, 503),
)
async def push(
    request: Request[Any, Any, Any], store: StoreDep, catalog: CatalogDep
) -> Response[PushResponse]:
    """Store and merge a batch; one result per item, in order. A 200 is durable."""
    body, msgpack = await read_body(request, MAX_BODY_BYTES), is_msgpack(request)
    body = without_bom(body, msgpack=msgpack)
    # in a worker thread: a body msgspec refuses may be read again by slower parsers, which
    # must not hold the event loop (and every other request) meanwhile
    envelope = await run_sync(_envelope, body, msgpack)
    device_id = nfc(envelope.device_id)
    # what a supervisor's resolution is shown as, however spelt (spaces, a fullwidth colon, a
    # zero-width space inside)
    shown = "".join(c for c in unicodedata.normalize("NFKC", device_id) if c.isprintable())
    squeezed = "".join(shown.split()).casefold()
    if squeezed.startswith("resolve:") or squeezed in ("cli", "api"):
        message = (
            "device ids starting resolve: name supervisors' resolutions, and cli and api the"
            " command line's and the API's actions in the audit log"
        )
        raise Invalid(message, errors=[FieldError("device_id", "not_allowed", message)])
    # shown beside values on the phones: no character that hides, breaks or reorders text
    if any(unseen(c) for c in device_id):
        message = "a device id may not hold control, invisible or bidirectional characters"
        raise Invalid(message, errors=[FieldError("device_id", "control_character", message)])
    if shows_nothing(device_id):  # " ", "\u2800": shown beside values as nothing
        message = "Mã thiết bị trống / a device id needs a visible character"
        raise Invalid(message, errors=[FieldError("device_id", "required", message)])
    user = request.user

    def stored() -> list[ItemResult]:
        catalog.reload()  # a publish seen here compiles its form: never on the event loop
        return sync.push(store, catalog, user, device_id, envelope.submissions, msgpack=msgpack)

    results = await run_sync(stored)
    return respond(request, PushResponse(results, now_iso()))


def _too_many() -> TooLarge:
    return TooLarge(f"at most {MAX_BATCH_ITEMS} submissions per batch", code="too_many_items")


def _envelope(body: bytes, msgpack: bool) -> PushEnvelope:
    """The batch, or the Malformed of `parse`; TooLarge past MAX_BATCH_ITEMS items. An item
    msgspec cannot read (nested past its limit; a lone surrogate, NaN or Infinity, which the
    standard parser reads) is split from the others, to be refused on its own. Run in a worker
    thread: the splits read every byte of up to 10 MiB in Python."""
    if _too_many_items(body, msgpack):
        raise _too_many()
    try:
        envelope = parse(body, PushEnvelope, msgpack=msgpack)
    except Malformed as exc:
        if isinstance(exc.__cause__, RecursionError):  # an item nested too deep: split
            with one_at_a_time():
                split = split_deep_batch(body, PushEnvelope, msgpack=msgpack, most=MAX_BATCH_ITEMS)
        else:  # a lone surrogate, NaN or Infinity in an item: the standard parser reads it
            split = None if msgpack else split_json_batch(body, PushEnvelope)
        if split is None:
            raise
        envelope = split
    if len(envelope.submissions) > MAX_BATCH_ITEMS:
        raise _too_many()
    return envelope


# A batch of more items than MAX_BATCH_ITEMS is refused before its items are read: read as a
# list first, 10 MiB of `[0,0,0,…]` (a 10 kB gzip body) made 5 million objects, 350 MB of the
# server's memory in JSON and 690 MB in MessagePack, before they were counted. Read as an
# array of at most that many optional fields, it stops at the one past them, having made
# nothing. (Below FEW_ELEMENTS a body is read as a list at once: it has no more elements than
# commas in JSON, or bytes in MessagePack.)
_AtMost = msgspec.defstruct(
    "_AtMost",
    [(f"i{n}", msgspec.Raw, msgspec.Raw(b"null")) for n in range(MAX_BATCH_ITEMS)],
    array_like=True,
    forbid_unknown_fields=True,
)
_Counted = msgspec.defstruct("_Counted", [("submissions", _AtMost)])
FEW_ELEMENTS = 20_000


def _too_many_items(body: bytes, msgpack: bool) -> bool:
    if (len(body) if msgpack else body.count(b",")) < FEW_ELEMENTS:
        return False
    try:
        (msgspec.msgpack if msgpack else msgspec.json).decode(body, type=_Counted)
    except msgspec.ValidationError as exc:  # anything else wrong is said by the full read
        return str(exc).startswith("Expected `array` of at most length")
    except (msgspec.DecodeError, RecursionError):
        return False
    return False


@get(
    "/sync/pull",
    guards=[officer_or_above],
    sync_to_thread=True,
    operation_class=ApiOperation,
    responses=errors(400, 409),
)
def pull(
    request: Request[Any, Any, Any],
    store: StoreDep,
    catalog: CatalogDep,
    since: FromQuery[str | None] = None,
    limit: Annotated[int, QueryParameter(ge=1, le=1000)] = 500,
) -> Response[RecordPage]:
    """The records of `sync_to_devices` forms in the caller's area changed after `since`."""
    catalog.reload()
    start = cursor.start(store, since)
    user = request.user
    page = store.records_page(
        area=user.area,
        since=start,
        limit=limit,
        form_ids=catalog.device_forms(),
        below=user.role != "officer",  # an officer's records are its own area's (areas.reaches)
    )
    return page_response(request, store, page, start)
