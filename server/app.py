"""create_app(settings) -> Litestar: routes, the store's lifespan, auth, errors, static /app.

The CLI and the tests build the app through this one constructor.
"""

from __future__ import annotations

import logging
import sqlite3
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from litestar import Litestar, Request, Response, Router
from litestar.config.compression import CompressionConfig
from litestar.datastructures import CacheControlHeader, State
from litestar.di import Provide
from litestar.exceptions import HTTPException, ValidationException
from litestar.file_system import BaseLocalFileSystem
from litestar.middleware.base import DefineMiddleware
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Components, SecurityScheme
from litestar.static_files import create_static_files_router

from server.api import exports, misc, records, sync
from server.api import forms as forms_api
from server.auth import TokenAuth
from server.catalog import Catalog
from server.errors import (
    BUSY_RETRY_SECONDS,
    ApiError,
    Malformed,
    NotFound,
    damaged,
    disk_full,
    msgspec_code,
    problem_json,
)
from server.protocol import MAX_BODY_BYTES, FieldError
from server.store import DatabaseGone, Store
from server.web import FailedAuthLimiter, edge_middleware

ROOT = Path(__file__).resolve().parent.parent
INVALID_TOKEN = 'Bearer error="invalid_token"'  # noqa: S105 (a challenge, no secret)
log = logging.getLogger("coso")


@dataclass
class Settings:
    db: str = "coso.db"
    schemas: Path = ROOT / "schemas"
    client: Path = ROOT / "client_forms"


def _database_busy(exc: Exception) -> bool:
    """SQLite's "database is locked" (or "busy"): a write that waited for another out."""
    if not isinstance(exc, sqlite3.OperationalError):
        return False
    message = str(exc).lower()
    return "database is locked" in message or "database is busy" in message


def problem(request: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
    """Every error, ours or the framework's, as RFC 9457 problem+json."""
    errors: list[FieldError] | None = None
    vi: str | None = None
    if isinstance(exc, ApiError):
        status, code, detail, errors, vi = exc.status, exc.code, exc.detail, exc.errors, exc.vi
    elif isinstance(exc, ValidationException):
        status, code, detail = 400, "bad_parameter", str(exc.detail)
        extra = exc.extra if isinstance(exc.extra, list) else []
        # litestar's messages for a query parameter are msgspec's (`limit=1001`: "Expected
        # `int` <= 1000"): the same codes as a body's
        errors = [
            FieldError(str(e.get("key", "")), msgspec_code(message), message)
            for e in extra
            if isinstance(e, dict)
            for message in [str(e.get("message", ""))]
        ] or None
    elif isinstance(exc, HTTPException) and exc.status_code == 413:
        # a Content-Length past the limit, refused before the body is read: the same problem
        # as a body found too large while reading it (server/api/body.py)
        status, code = 413, "body_too_large"
        detail = f"the body is over {MAX_BODY_BYTES} bytes"
    elif isinstance(exc, HTTPException):
        status, detail = exc.status_code, str(exc.detail)
        code = {
            401: "unauthorized",
            403: "forbidden",
            404: "not_found",
            405: "method_not_allowed",
            413: "too_large",
            429: "rate_limited",
        }.get(status, "http_error")
    elif _database_busy(exc):
        # another writer (`coso forms publish` re-deriving a renamed form's records, say) held
        # the database past the store's busy_timeout: the transaction never began, so the
        # client may send the same request again
        log.warning("database busy on %s %s: %s", request.method, request.url.path, exc)
        status, code = 503, "busy"
        detail = (
            f"the database is busy with another write; nothing was stored: send again in "
            f"{BUSY_RETRY_SECONDS} s"
        )
    elif isinstance(exc, DatabaseGone):
        log.error("DATABASE FILE GONE / MẤT TỆP CƠ SỞ DỮ LIỆU: %s", exc)
        status, code = 503, "database_gone"
        detail = "the server's database file is missing; nothing was stored: send again later"
    elif damaged(exc):
        store = request.app.state.get("store")
        if store is not None:
            store.found_damaged(exc, f"{request.method} {request.url.path}")
        status, code = 503, "database_damaged"
        detail = (
            "the server's database is damaged; nothing was stored: its operator restores a backup"
        )
        vi = (
            "Cơ sở dữ liệu của máy chủ bị hỏng, chưa lưu gì: người quản trị cần khôi phục bản "
            "sao lưu"
        )
    elif disk_full(exc) and isinstance(exc, OSError):  # a file the server makes: an export's
        log.error(
            "DISK FULL / Ổ ĐĨA ĐẦY: %s %s: no room for its file (%s): free space in the"
            " temporary folder (TMPDIR)",
            request.method,
            request.url.path,
            exc.filename or exc.strerror,
        )
        status, code = 503, "disk_full"
        detail = f"the server's disk is full: try again in {BUSY_RETRY_SECONDS} s"
        vi = "Ổ đĩa máy chủ đã đầy: hãy thử lại sau"
    elif disk_full(exc):
        # one line for the operator, not a traceback a request: the phone keeps its items and
        # sends them again once there is room
        log.error(
            "DISK FULL / Ổ ĐĨA ĐẦY: %s %s not stored: free space on the disk of the database",
            request.method,
            request.url.path,
        )
        status, code = 503, "disk_full"
        detail = (
            f"the server's disk is full; nothing was stored: send again in {BUSY_RETRY_SECONDS} s"
        )
    else:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        status, code, detail = 500, "internal", "an unexpected error; it has been logged"
    headers = {
        # RFC 6750 3.1: a token that was sent and is no good says so; none sent, no error
        401: {"WWW-Authenticate": "Bearer" if code == "missing_token" else INVALID_TOKEN},
        415: {"Accept-Encoding": "gzip"} if code == "unsupported_encoding" else {},
        429: {"Retry-After": "60"},
        503: {"Retry-After": str(BUSY_RETRY_SECONDS)},
    }.get(status, {})
    if isinstance(exc, HTTPException) and exc.headers:  # e.g. the Allow of a 405 (RFC 9110)
        headers = {**exc.headers, **headers}
    return Response(
        problem_json(status, code, detail, errors, vi),
        status_code=status,
        media_type="application/problem+json",
        headers=headers,
    )


# the query parameters that take a whole number
WHOLE_NUMBERS = frozenset({"limit"})


def _query_checked(request: Request[Any, Any, Any]) -> None:
    """Each query parameter is one the path takes, given once; else 400 at its name. A name
    the path does not take (`formid=pn`, a typo) would be ignored, and the answer would be
    to another question (every form's records); one given twice (`form_id=a&form_id=b`)
    would be read as the last (a client meaning "either form" would get one form's records).
    Checked before every API handler; a request's one URL is checked before routing
    (server/web.py)."""
    if request.method == "OPTIONS":  # a question about the path, whatever the query
        return
    pairs = parse_qsl(
        request.scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True
    )
    # (counted in one pass: 20,000 `limit`s counted each against all took 10 s of CPU)
    counts = Counter(name for name, _ in pairs)
    takes: frozenset[str] = request.app.state.query_names.get(request.route_handler, frozenset())
    twice = sorted(name for name, n in counts.items() if name in takes and n > 1)
    unknown = sorted(name for name in counts if name not in takes)
    if not (twice or unknown):
        for name, value in pairs:
            # a whole number in digits only, one spelling as for the cursors: litestar read
            # `1e3` and `1.0` as numbers, and refused `+5` and `0100` in its own words
            if name in WHOLE_NUMBERS and not (
                value.isascii() and value.isdigit() and (value == "0" or value[0] != "0")
            ):
                message = f"{name}: a whole number in digits with no leading zero, not {value!r}"
                raise Malformed(
                    message, code="bad_parameter", errors=[FieldError(name, "type", message)]
                )
        return
    said = [f"give each query parameter once: {', '.join(twice)}"] if twice else []
    if unknown:
        shown = ", ".join(repr(n) for n in unknown)
        said.append(
            f"unknown query parameter {shown}: this path takes {', '.join(sorted(takes)) or 'none'}"
        )
    raise Malformed(
        "; ".join(said),
        code="bad_parameter",
        errors=[FieldError(name, "duplicate", "given more than once") for name in twice]
        + [
            FieldError(name, "unknown_parameter", "not a parameter of this path")
            for name in unknown
        ],
    )


def _missing_docs_page(response: Response[Any]) -> Response[Any]:
    """litestar answers an unknown page under /schema with HTML; every error here is ours."""
    if response.status_code == 404:
        raise NotFound("no such page of the API documentation")
    return response


class AppFiles(BaseLocalFileSystem):
    """The app's files on disk. A path no file can have (a NUL byte, `/app/app.js%00.png`)
    is not found: the operating system refuses it with a ValueError, which was a 500."""

    async def info(self, path: Any, **kwargs: Any) -> Any:
        if "\x00" in str(path):
            raise FileNotFoundError(path)
        return await super().info(path, **kwargs)


def _store(state: State) -> Store:
    return state.store  # type: ignore[no-any-return]


def _catalog(state: State) -> Catalog:
    return state.catalog  # type: ignore[no-any-return]


def create_app(settings: Settings) -> Litestar:
    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        store = Store(settings.db)
        app.state.store = store
        app.state.catalog = catalog = Catalog(store)
        app.state.auth_limiter = FailedAuthLimiter()
        # records a renaming publish left under older names (it stopped half-way): derived
        # anew beside the requests, now and whenever a renaming version comes from elsewhere
        catalog.catching_up = True
        catalog.catch_up()
        try:
            yield
        finally:
            catalog.stop()
            store.close()

    api = Router(
        path="/api/v1",
        before_request=_query_checked,
        route_handlers=[
            forms_api.manifest,
            forms_api.form_version,
            forms_api.publish,
            sync.push,
            sync.pull,
            records.records,
            records.record,
            records.conflicts,
            records.resolve,
            exports.export_form,
            misc.me,
            misc.audit,
        ],
        security=[{"bearer": []}],
    )
    handlers: list[Any] = [api, misc.healthz, misc.home]
    if settings.client.is_dir():
        handlers.append(
            create_static_files_router(
                path="/app",
                directories=[settings.client],
                html_mode=True,
                file_system=AppFiles(),
                # kept, but asked about each time: a new shell reaches phones at once, and an
                # unchanged file costs a 304 (server/web.py)
                cache_control=CacheControlHeader(no_cache=True),
                opt={"exclude_from_auth": True},
                include_in_schema=False,
            )
        )
    app = Litestar(
        route_handlers=handlers,
        lifespan=[lifespan],
        dependencies={
            "store": Provide(_store, sync_to_thread=False),
            "catalog": Provide(_catalog, sync_to_thread=False),
        },
        middleware=[DefineMiddleware(TokenAuth, exclude=["^/healthz", "^/schema", "^/app", "^/$"])],
        exception_handlers={Exception: problem},
        compression_config=CompressionConfig(
            backend="gzip", minimum_size=1024, gzip_compress_level=5
        ),
        openapi_config=OpenAPIConfig(
            title="coso",
            version="1",
            path="/schema",
            openapi_router=Router(
                "/schema",
                route_handlers=[],
                include_in_schema=False,
                after_request=_missing_docs_page,
            ),
            components=Components(
                security_schemes={
                    "bearer": SecurityScheme(
                        type="http",
                        scheme="bearer",
                        description="The token `coso users add` printed",
                    )
                }
            ),
        ),
        request_max_body_size=MAX_BODY_BYTES,
    )
    # the query parameters each API handler takes, by name (_query_checked)
    app.state.query_names = {
        handler: frozenset(
            p.field_alias
            for p in handler.create_kwargs_model(
                path_parameters=route.path_parameters
            ).expected_query_params
        )
        for route in app.routes
        if route.path.startswith("/api/")
        for handler in getattr(route, "route_handlers", ())
    }
    # The edge (security headers, access log) goes around everything litestar answers:
    # litestar runs `middleware=` only for routed requests and skips its send wrappers for
    # what a middleware raises, so 404/405 and the auth middleware's 401/429 went out bare.
    methods: dict[str, set[str]] = {}
    for route in app.routes:
        methods.setdefault(route.path, set()).update(getattr(route, "methods", ()))
    app.asgi_handler = edge_middleware(
        app.asgi_handler, {path: frozenset(m) for path, m in methods.items()}
    )
    return app
