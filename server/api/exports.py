"""Exports of a form's records (CSV, XLSX, JSONL), streamed while they are read."""

from __future__ import annotations

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
from server.errors import Malformed, unknown_form
from server.protocol import FieldError
from server.store import Store
from server.web import HEAD_KEY

PAGE = 1000
# the `since` of the next export, for one that takes only what changed after this one
NEXT_HEADER = "Coso-Next-Since"

VIETNAM = timezone(timedelta(hours=7), "ICT")  # no daylight saving


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


async def in_thread(chunks: Generator[bytes, None, None]) -> AsyncIterator[bytes]:
    """Each chunk made in a worker thread (SQLite and encoding block). Unlike litestar's own
    wrapper, an exception ends the response as an error, not as a short file that looks
    whole, and a client that goes away closes the generator (and its temp file) at once."""
    try:
        while (chunk := await run_sync(next, chunks, None)) is not None:
            yield chunk
    finally:
        with anyio.CancelScope(shield=True):
            await run_sync(chunks.close)


@get(
    "/forms/{form_id:str}/export",
    guards=[supervisor_or_above],
    sync_to_thread=True,
    operation_class=files(*export.MEDIA_TYPES.values()),
    responses=errors(400, 403, 404, 409),
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
        chunks = _nothing()
    else:
        chunks = _started(chunks)
    day = datetime.now(VIETNAM).strftime("%Y%m%d")  # the day where the file is read
    filename = f"{form_id}_{scope or 'all'}_{day}.{format}"
    return Stream(
        in_thread(chunks),
        media_type=export.MEDIA_TYPES[format],
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "no-store",
            NEXT_HEADER: next_since,
        },
    )
