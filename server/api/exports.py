"""Exports of a form's records (CSV, XLSX, JSONL), streamed while they are read."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import AsyncIterator, Generator, Iterator
from datetime import datetime, timedelta, timezone
from typing import Annotated, Any

import anyio
from anyio.to_thread import run_sync
from litestar import Request, get
from litestar.params import FromPath, FromQuery, QueryParameter
from litestar.response import Stream

from server import areas, cursor, export
from server.api.deps import CatalogDep, StoreDep
from server.api.docs import errors, files
from server.auth import check_area, supervisor_or_above
from server.catalog import renames_now
from server.errors import BUSY_RETRY_SECONDS, ApiError, Malformed, damaged, unknown_form
from server.protocol import FieldError
from server.store import Store
from server.web import HEAD_KEY

PAGE = 1000
# the `since` of the next export, for one that takes only what changed after this one
NEXT_HEADER = "Coso-Next-Since"

VIETNAM = timezone(timedelta(hours=7), "ICT")  # no daylight saving

# XLSX exports built at once. One is built whole (a temporary file) before its first byte, on
# a worker thread, and goes on if its client goes away: ten at once (double clicks, a script)
# held phones' pushes for 20 s, and forty every other request for two minutes (found by a
# probe). Another is 503 `busy` at once: one waiting for a turn held a worker thread, which
# pushes need too (forty waiting held them all). CSV and JSONL stream as they read, and are
# not limited.
XLSX_AT_ONCE = 2
_XLSX_TURNS = threading.BoundedSemaphore(XLSX_AT_ONCE)


def _xlsx_turn() -> None:
    if not _XLSX_TURNS.acquire(blocking=False):
        raise ApiError(
            f"{XLSX_AT_ONCE} spreadsheet exports are being made; try again in"
            f" {BUSY_RETRY_SECONDS} s, or export csv or jsonl",
            code="busy",
            status=503,
            vi=f"Máy chủ đang làm {XLSX_AT_ONCE} tệp xlsx khác: hãy thử lại sau"
            f" {BUSY_RETRY_SECONDS} giây, hoặc xuất csv hay jsonl",
        )


def _turn_given_back(chunks: Generator[bytes, None, None]) -> Generator[bytes, None, None]:
    """`chunks`, the turn taken for it given back when it ends, fails or is closed."""
    try:
        yield from chunks
    finally:
        _XLSX_TURNS.release()


def records_since(store: Store, form_id: str, area: str, since: int) -> Iterator[str]:
    """The stored documents of a form's records in `area` changed after `since`, in change
    order, a page at a time (Store.iter_records)."""
    return (row.doc for row in store.iter_records(form_id, area, since, PAGE))


def _nothing() -> Generator[bytes, None, None]:
    yield from ()


def _started(chunks: Generator[bytes, None, None]) -> Generator[bytes, None, None]:
    """`chunks` with its first one made now."""
    try:
        first = next(chunks)
    except StopIteration:
        return chunks  # done: yields nothing more
    except BaseException:
        chunks.close()
        raise

    def rest() -> Generator[bytes, None, None]:
        yield first
        yield from chunks  # closing this closes `chunks`

    return rest()


async def in_thread(
    chunks: Generator[bytes, None, None], store: Store | None = None
) -> AsyncIterator[bytes]:
    """Each chunk made in a worker thread (SQLite and encoding block). Unlike litestar's own
    wrapper, an exception ends the response as an error, not as a short file that looks
    whole, and a client that goes away closes the generator (and its temp file) at once.
    Damaged pages met on the way are said as a request's are (app.problem): the log's line,
    and /healthz (a streamed answer has begun: its status is said already)."""
    try:
        while (chunk := await run_sync(next, chunks, None)) is not None:
            yield chunk
    except sqlite3.DatabaseError as exc:
        if store is not None and damaged(exc):
            store.found_damaged(exc, "an export cut short")
        raise
    finally:
        with anyio.CancelScope(shield=True):
            await run_sync(chunks.close)


@get(
    "/forms/{form_id:str}/export",
    guards=[supervisor_or_above],
    sync_to_thread=True,
    operation_class=files(*export.MEDIA_TYPES.values()),
    responses=errors(400, 403, 404, 409, 503),  # 503: disk_full, or busy (XLSX_AT_ONCE)
)
def export_form(
    request: Request[Any, Any, Any],
    store: StoreDep,
    catalog: CatalogDep,
    form_id: FromPath[str],
    format: Annotated[str, QueryParameter(enum=list(export.MEDIA_TYPES))] = "csv",
    since: FromQuery[str | None] = None,
    area: FromQuery[str | None] = None,
) -> Stream:
    """Every record of the form in the caller's area (or in `area`, inside it) changed after
    `since`, as a file: `format=csv` (UTF-8 with BOM), `xlsx` or `jsonl`."""
    if format not in export.MEDIA_TYPES:
        message = f"format {format!r}: use csv, xlsx or jsonl"
        raise Malformed(
            message, code="bad_format", errors=[FieldError("format", "choice", message)]
        )
    start = cursor.start(store, since)
    scope = request.user.area
    if area:
        try:
            scope = areas.parse(area)
        except areas.AreaError as exc:
            errors = [FieldError("area", "format", str(exc))]
            raise Malformed(str(exc), code="bad_area", errors=errors) from exc
        check_area(request.user, scope, parameter="area")
    catalog.reload()
    fv = catalog.get(form_id)
    if fv is None:
        raise unknown_form(form_id)
    # where the next export of what changed since this one starts: the latest change before
    # the first row is read (one made while the export runs may come in both, never in neither)
    next_since = cursor.make(store.db_id, store.last_change_seq())
    chunks = export.export(
        format,  # type: ignore[arg-type]  # checked above
        records_since(store, form_id, scope, start),
        fv.defs,
        sheet=form_id,
        later=lambda: renames_now(catalog, form_id),
    )
    # The first chunk made before the answer starts: an XLSX is built whole first, and what
    # fails then (no room for its temporary file) is answered as an error (503 disk_full),
    # not as a 200 cut short. A HEAD has the headers only, and builds nothing.
    if request.scope.get(HEAD_KEY):
        chunks.close()
        if format == "xlsx":  # the status a GET would have now, and nothing built
            _xlsx_turn()
            _XLSX_TURNS.release()
        chunks = _nothing()
    elif format == "xlsx":
        try:
            _xlsx_turn()
        except ApiError:
            chunks.close()
            raise
        chunks = _started(_turn_given_back(chunks))  # started: its `finally` will run
    else:
        chunks = _started(chunks)
    day = datetime.now(VIETNAM).strftime("%Y%m%d")  # the day where the file is read
    filename = f"{form_id}_{scope or 'all'}_{day}.{format}"
    return Stream(
        in_thread(chunks, store),
        media_type=export.MEDIA_TYPES[format],
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "no-store",
            NEXT_HEADER: next_since,
        },
    )
