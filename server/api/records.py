"""Supervisors' records: cursor pull, one record with its submissions, open conflicts,
and resolving them."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from anyio.to_thread import run_sync
from litestar import Request, Response, get, post
from litestar.params import FromPath, FromQuery, QueryParameter

from server import cursor
from server.api.body import decode, respond
from server.api.deps import CatalogDep, StoreDep
from server.api.docs import JSON, MSGPACK, RESOLVE_EXAMPLE, ApiOperation, body, errors
from server.auth import check_area, supervisor_or_above
from server.errors import NotFound, unknown_form
from server.protocol import (
    ConflictList,
    Record,
    RecordDetail,
    RecordPage,
    ResolveRequest,
    ResolveResponse,
    StoredSubmission,
)
from server.resolve import resolve as resolve_record
from server.store_schema import RecordRow


class _RawPage(msgspec.Struct):
    records: list[msgspec.Raw]
    next: str
    more: bool


def page_response(
    request: Request[Any, Any, Any],
    store: StoreDep,
    page: tuple[list[RecordRow], bool],
    start: int,
) -> Response[RecordPage]:
    """A page of stored record documents (`Store.records_page`), sent without re-parsing
    them; `next` is after the last one sent."""
    rows, more = page
    last = rows[-1].change_seq if rows else start
    raw = _RawPage([msgspec.Raw(r.doc) for r in rows], cursor.make(store.db_id, last), more)
    return respond(request, raw)


@get(
    "/records",
    guards=[supervisor_or_above],
    sync_to_thread=True,
    operation_class=ApiOperation,
    responses=errors(400, 403, 404, 409),
)
def records(
    request: Request[Any, Any, Any],
    store: StoreDep,
    catalog: CatalogDep,
    form_id: FromQuery[str | None] = None,
    since: FromQuery[str | None] = None,
    limit: Annotated[int, QueryParameter(ge=1, le=1000)] = 500,
) -> Response[RecordPage]:
    """Records in the caller's area changed after `since`, oldest change first."""
    return _page(request, store, catalog, form_id, since, limit)


def _page(
    request: Request[Any, Any, Any],
    store: StoreDep,
    catalog: CatalogDep,
    form_id: str | None,
    since: str | None,
    limit: int,
    conflicts_only: bool = False,
) -> Response[Any]:
    """A page of the caller's records after the cursor `since`; a `form_id` never published
    is a 404, and so is an empty one (`?form_id=`, a client's filter left blank), which had
    silently widened the list to every form."""
    catalog.reload()  # a version published meanwhile: its records are derived from here on
    start = cursor.start(store, since)
    form_ids = None
    if form_id is not None:
        if catalog.get(form_id) is None:
            raise unknown_form(form_id)
        form_ids = [form_id]
    page = store.records_page(
        area=request.user.area,
        since=start,
        limit=limit,
        form_ids=form_ids,
        conflicts_only=conflicts_only,
    )
    return page_response(request, store, page, start)


@get(
    "/records/{record_id:str}",
    guards=[supervisor_or_above],
    sync_to_thread=True,
    operation_class=ApiOperation,
    responses=errors(400, 403, 404),
)
def record(
    request: Request[Any, Any, Any],
    store: StoreDep,
    catalog: CatalogDep,
    record_id: FromPath[str],
) -> Response[RecordDetail]:
    """One record with every submission stored for it (pending ones too)."""
    catalog.reload()  # as _page
    with store.snapshot():  # the record and its submissions as of one moment
        row = store.record(record_id.lower())
        if row is None:
            raise NotFound(f"no record {record_id}", code="unknown_record")
        check_area(request.user, row.area)
        subs = store.submissions_of([row.record_id])[row.record_id]
        names = store.user_names(s.user_id for s in subs)
    rec = msgspec.json.decode(row.doc, type=Record)
    merged_ids = _merged_ids(rec, subs)
    authors = {s.id: s.user_id for s in subs}
    for c in rec.conflicts:  # who wrote each competing value, by name and id
        for v in c.values:
            v.user_id = authors.get(v.submission_id)
            v.user = names.get(v.user_id) if v.user_id is not None else None
    detail = RecordDetail(
        **msgspec.structs.asdict(rec),
        submissions=[
            StoredSubmission(
                id=s.id,
                record_id=s.record_id,
                form_id=s.form_id,
                form_version=s.form_version,
                parents=msgspec.json.decode(s.parents),
                captured_at=s.captured_at,
                received_at=s.received_at,
                device_id=s.device_id,
                user=names.get(s.user_id, ""),
                data=msgspec.json.decode(s.data),
                resolves=msgspec.json.decode(s.resolves),
                status="merged" if s.id in merged_ids else "pending",
                note=s.note,
                user_id=s.user_id,
            )
            for s in sorted(subs, key=lambda s: (s.received_at, s.id))
        ],
    )
    return respond(request, detail)


def _merged_ids(rec: Record, subs: list[Any]) -> set[str]:
    """The submissions that take part: the heads and all their ancestors."""
    parents = {s.id: msgspec.json.decode(s.parents) for s in subs}
    seen: set[str] = set()
    todo = list(rec.heads)
    while todo:
        sid = todo.pop()
        if sid not in seen and sid in parents:
            seen.add(sid)
            todo.extend(parents[sid])
    return seen


@get(
    "/conflicts",
    guards=[supervisor_or_above],
    sync_to_thread=True,
    operation_class=ApiOperation,
    responses=errors(400, 403, 404, 409),
)
def conflicts(
    request: Request[Any, Any, Any],
    store: StoreDep,
    catalog: CatalogDep,
    form_id: FromQuery[str | None] = None,
    since: FromQuery[str | None] = None,
    limit: Annotated[int, QueryParameter(ge=1, le=1000)] = 500,
) -> Response[ConflictList]:
    """Records in the caller's area with open conflicts, oldest change first, a page at a
    time: `next` is the cursor for the following page, `more` says whether there is one. The
    cursor pages one reading of the list; it does not follow it (a conflict settled since does
    not come again): to follow conflicts as they open and close, follow `/records`."""
    return _page(request, store, catalog, form_id, since, limit, conflicts_only=True)


@post(
    "/records/{record_id:str}/resolve",
    guards=[supervisor_or_above],
    status_code=200,
    operation_class=body(ResolveRequest, JSON, MSGPACK, example=RESOLVE_EXAMPLE),
    responses=errors(400, 403, 404, 408, 409, 413, 415, 422, 503),
)
async def resolve(
    request: Request[Any, Any, Any], store: StoreDep, catalog: CatalogDep, record_id: FromPath[str]
) -> Response[ResolveResponse]:
    """Settle fields: a submission with parents = `heads` that resolves the fields given.
    409 when `heads` are no longer the record's heads."""
    body = await decode(request, ResolveRequest, 1024 * 1024)
    user = request.user
    sid, rec = await run_sync(lambda: resolve_record(store, catalog, user, record_id.lower(), body))
    return respond(request, ResolveResponse(sid, rec))
