"""Small endpoints: who am I, the audit log (admin), and the health check."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Request, Response, get
from litestar.params import FromQuery, QueryParameter
from litestar.response import Redirect

from server import areas, cursor
from server.api.body import respond
from server.api.deps import StoreDep
from server.api.docs import ApiOperation, errors
from server.auth import admin_only, officer_or_above
from server.errors import ApiError
from server.protocol import AuditEntry, AuditPage, Health, Me


@get(
    "/me",
    guards=[officer_or_above],
    sync_to_thread=False,
    operation_class=ApiOperation,
    responses=errors(),
)
def me(request: Request[Any, Any, Any]) -> Response[Me]:
    """The caller: name, role, area, the area's official name and its user id."""
    user = request.user
    name = areas.name(user.area) if user.area else None
    return respond(request, Me(user.name, user.role, user.area, name, user.id))


# the details a page of the audit log holds before it ends, whatever its `limit` (one entry at
# least): the answer and the server's memory for it stay a few MB
AUDIT_PAGE_BYTES = 4 * 1024 * 1024


@get(
    "/audit",
    guards=[admin_only],
    sync_to_thread=True,
    operation_class=ApiOperation,
    responses=errors(400, 403, 409),
)
def audit(
    request: Request[Any, Any, Any],
    store: StoreDep,
    since: FromQuery[str | None] = None,
    limit: Annotated[int, QueryParameter(ge=1, le=1000)] = 500,
) -> Response[AuditPage]:
    """Every publish, push item, resolution and user change, oldest first."""
    start = cursor.read(store.db_id, since, cursor.AUDIT)
    # The log's seq runs 1, 2, 3... with no gaps (nothing is ever deleted): a cursor names an
    # entry, or it was never given here (another list's, made up) and would skip entries.
    if start and not [r for r in store.audit_page(start - 1, 1)[0] if r[0] == start]:
        raise ApiError(
            "this cursor is ahead of this database's audit log: read it again from the start",
            code="reset_required",
            status=409,
        )
    # an admin bound to an area reads what the users of its area did, as it reads its records
    rows, more = store.audit_page(start, limit, AUDIT_PAGE_BYTES, request.user.area)
    entries = [
        AuditEntry(seq, at, user, user_id, device, action, target, msgspec.Raw(detail))
        for seq, at, user, user_id, device, action, target, detail in rows
    ]
    last = rows[-1][0] if rows else start
    page = AuditPage(entries, cursor.make(store.db_id, last, cursor.AUDIT), more)
    return respond(request, page)


@get("/healthz", sync_to_thread=True, exclude_from_auth=True)
def healthz(store: StoreDep) -> Health:
    """Liveness and the database's identity (it changes on restore); HEAD too, for uptime
    monitors (server/web.py answers HEAD wherever GET works)."""
    store.last_change_seq()  # the database answers
    if store.damaged is not None:  # a request found pages damaged: the monitor is told
        raise ApiError(
            f"the server's database is damaged ({store.damaged}): restore a backup",
            code="database_damaged",
            status=503,
            vi="Cơ sở dữ liệu của máy chủ bị hỏng: hãy khôi phục bản sao lưu",
        )
    return Health("ok", store.db_id)


@get("/", exclude_from_auth=True, include_in_schema=False, sync_to_thread=False)
def home() -> Redirect:
    """A person who opens the server's address lands on the officers' app."""
    return Redirect("app/")
