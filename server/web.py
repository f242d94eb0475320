"""The HTTP edge: security headers, a strict Content-Security-Policy for the app, structured
access logs (never a token), a limit on failed authentication per client address, and HEAD
wherever GET works (RFC 9110 9.3.2), with the `Allow` of 405 and OPTIONS answers saying so;
a request not at its resource's one URL is 404 before anything else sees it.

A plain ASGI middleware, so it sees every response, static files and errors included.
"""

from __future__ import annotations

import json
import logging
import time
from collections import deque
from collections.abc import Mapping
from typing import Any, cast

from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from server.errors import problem_json

access_log = logging.getLogger("coso.access")

APP_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "connect-src 'self'; manifest-src 'self'; worker-src 'self'; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
API_CSP = "default-src 'none'; frame-ancestors 'none'"
# litestar's docs pages (/schema) load their scripts from CDNs (redoc's `latest`, unpinned,
# with no integrity check). A sandbox without allow-same-origin runs them in an opaque
# origin: whatever a CDN serves cannot read the app's IndexedDB (the officer's token, the
# cases), register a service worker or call the API as this origin. The public OpenAPI
# document they fetch is open to any origin for that (DOCS_CORS): it holds no secret.
DOCS_CSP = (
    "sandbox allow-scripts allow-popups allow-popups-to-escape-sandbox allow-forms; "
    "frame-ancestors 'none'"
)
DOCS_CORS = [(b"access-control-allow-origin", b"*")]
DOCS_DOCUMENTS = ("/schema/openapi.json", "/schema/openapi.yaml", "/schema/openapi.yml")
COMMON = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
]


# In the scope of a HEAD request, which the app's handlers see as a GET (see edge).
HEAD_KEY = "coso.head"
BODY_HEADERS = (b"content-length", b"content-type", b"content-encoding", b"content-range")


def _header(headers: list[tuple[bytes, bytes]], name: bytes) -> bytes | None:
    """The values of a request header, joined as a list (RFC 9110 5.3), or None."""
    values = [v for k, v in headers if k.lower() == name]
    return b", ".join(values) if values else None


def none_match(if_none_match: str, etag: str) -> bool:
    """Whether an If-None-Match list names `etag`: `*`, or one of its tags by the weak
    comparison (RFC 9110 13.1.2), a weak tag (`W/"..."`) matching its strong twin."""
    tags = {t.strip().removeprefix("W/") for t in if_none_match.split(",")}
    return "*" in tags or etag.strip().removeprefix("W/") in tags


def _matches(if_none_match: bytes, headers: list[tuple[bytes, bytes]]) -> bool:
    """Whether If-None-Match names the response's ETag."""
    etag = _header(headers, b"etag")
    return etag is not None and none_match(if_none_match.decode("latin-1"), etag.decode("latin-1"))


class FailedAuthLimiter:
    """At most `limit` failed authentications per client address in `window` seconds."""

    def __init__(self, limit: int = 20, window: float = 60.0) -> None:
        self.limit, self.window = limit, window
        self._failures: dict[str, deque[float]] = {}

    def blocked(self, client: str) -> bool:
        q = self._failures.get(client)
        if not q:
            return False
        cutoff = time.monotonic() - self.window
        while q and q[0] < cutoff:
            q.popleft()
        return len(q) >= self.limit

    def failed(self, client: str) -> None:
        if len(self._failures) > 100_000:  # bounded memory under a spray of addresses
            self._failures.clear()
        self._failures.setdefault(client, deque()).append(time.monotonic())


def qualities(header: str) -> dict[str, float]:
    """An Accept or Accept-Encoding value as {lowercased item: its best q} (RFC 9110 12.4.2):
    `q=0` means "not acceptable"; a q that is not a number from 0 to 1 counts as 1."""
    found: dict[str, float] = {}
    for part in header.split(","):
        item, *params = part.split(";")
        item = item.strip().lower()
        if not item:
            continue
        q = 1.0
        for param in params:
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    q = float(value.strip())
                except ValueError:
                    q = 1.0
                if not 0.0 <= q <= 1.0:  # NaN too
                    q = 1.0
        found[item] = max(found.get(item, 0.0), q)
    return found


def _accept_encoding(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """The request's headers with Accept-Encoding rewritten to the codings it accepts (q > 0,
    lowercased; `*` names gzip too): litestar's compression looks for "gzip" anywhere in the
    value, so `gzip;q=0`, a client's "never gzip", got gzip."""
    value = b",".join(v for k, v in headers if k.lower() == b"accept-encoding")
    if not value:
        return headers
    q = qualities(value.decode("latin-1"))
    accepted = [coding for coding, weight in q.items() if weight > 0]
    if "gzip" not in q and q.get("*", 0.0) > 0:
        accepted.append("gzip")
    rest = [(k, v) for k, v in headers if k.lower() != b"accept-encoding"]
    return [*rest, (b"accept-encoding", ", ".join(accepted).encode("latin-1"))]


def _vary_encoding(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """One `Vary` naming Accept-Encoding: an API answer may be gzipped, so every one of its
    forms (the plain one and a 304 too, RFC 9110 15.4.5) must say so, or a cache could hand
    the plain one to a client that asked for gzip; the compression adds its own only to what
    it compresses, beside the handler's `Vary: Accept`."""
    names: list[str] = []
    for key, value in headers:
        if key.lower() == b"vary":
            for name in value.decode("latin-1").split(","):
                name = name.strip()
                if name and name.lower() not in (n.lower() for n in names):
                    names.append(name)
    if "accept-encoding" not in (n.lower() for n in names):
        names.append("Accept-Encoding")
    rest = [(k, v) for k, v in headers if k.lower() != b"vary"]
    return [*rest, (b"vary", ", ".join(names).encode("latin-1"))]


def _weak_etag(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """Every ETag weak (as nginx makes those it gzips): a strong validator names one sequence
    of bytes (RFC 9110 8.8.1), and an answer may go out gzipped or plain, by the request's
    Accept-Encoding and its size, while its 304 cannot tell which. If-None-Match compares
    weakly, so any tag still gets 304."""
    return [
        (k, b"W/" + v.strip()) if k.lower() == b"etag" and v.strip().startswith(b'"') else (k, v)
        for k, v in headers
    ]


def _origin_form(http: dict[str, Any]) -> dict[str, Any]:
    """A request for `http://host/path` (the absolute form, which a server must accept, RFC
    9112 3.2.2) as one for `/path`: uvicorn hands the whole URL on as the path, and every
    route answered 404."""
    raw: bytes = http.get("raw_path") or http["path"].encode()
    if b"://" not in raw:  # `http%3A//x/...`: no absolute form (its scheme is escaped), no route's
        return http
    path = "/" + http["path"].split("://", 1)[1].partition("/")[2]
    raw_path = b"/" + raw.split(b"://", 1)[1].partition(b"/")[2]
    return {**http, "path": path, "raw_path": raw_path}


def _not_one_url(http: Mapping[str, Any]) -> str | None:
    """The path of a request that is not at a resource's one URL, or None. litestar also
    routes `versions/2/`, `records//` and `records/%2F` to a handler, so a form version,
    immutable and cached for a year, was cached under two names, and an encoded slash in an id
    read as a path. Refused before routing, so 404 for every method (after it, `GET
    records/x%2Fresolve` was 405, the method the decoded path did not take). A path that
    starts with an empty segment (`//api/v1/records`, `//app/`, `//healthz`, `//`) is no
    one's either: litestar routed it as the path without it. Nor is one outside the API with
    an empty segment, an encoded slash or a trailing slash (`/healthz/`, `/schema//openapi.json`,
    `/app/%2Findex.html`), but for the app's own `/app/` and the site's `/`."""
    raw: bytes = http.get("raw_path") or http["path"].encode()
    if raw.startswith(b"//") or b"//" in raw or b"%2f" in raw.lower():
        return raw.decode("latin-1")
    if raw.endswith(b"/") and raw not in (b"/", b"/app/"):
        return raw.decode("latin-1")
    return None


def _allow(methods: Any) -> bytes:
    """An `Allow` value: HEAD wherever GET is."""
    allowed = {m.strip().upper() for m in methods if m.strip()}
    if "GET" in allowed:
        allowed.add("HEAD")
    return ", ".join(sorted(allowed)).encode()


def edge_middleware(app: ASGIApp, routes: Mapping[str, frozenset[str]] | None = None) -> ASGIApp:
    """`routes`: each path template's methods, for OPTIONS answers (litestar's list only
    those of the first handler registered for a path: `OPTIONS /api/v1/forms` left out POST).
    """
    routes = routes or {}

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await app(scope, receive, send)
            return
        started = time.perf_counter()
        http = cast("dict[str, Any]", scope)  # an HTTP scope, as a plain mapping to copy
        if http["path"].startswith(("http://", "https://")):
            http = _origin_form(http)
        path: str = http["path"]
        method: str = http["method"]
        # HEAD is GET without the body: the same status and headers (ETag, Content-Length),
        # from the same handler. The server below us still sees HEAD in its own scope, and
        # a handler that would make a body at some cost first can tell (HEAD_KEY).
        inner = {**http, "method": "GET", HEAD_KEY: True} if method == "HEAD" else http
        headers_in = list(http.get("headers", []))
        if any(k.lower() == b"accept-encoding" for k, _ in headers_in):
            inner = {**inner, "headers": _accept_encoding(headers_in)}
        docs = path == "/schema" or path.startswith("/schema/")
        csp = DOCS_CSP if docs else (APP_CSP if path.startswith("/app") else API_CSP)
        seen: dict[str, Any] = {
            "status": 0,
            "bytes": 0,
            "ended": False,
            "bodiless": method == "HEAD",
        }
        # the app's files: a phone revalidating its copy gets 304, not the file again
        asked = (
            _header(headers_in, b"if-none-match")
            if path.startswith("/app/") and method in ("GET", "HEAD")
            else None
        )

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                seen["status"] = status = message["status"]
                headers = list(message.get("headers", [])) + COMMON
                headers.append((b"content-security-policy", csp.encode()))
                if path.startswith("/api/"):
                    headers = _vary_encoding(headers)
                if path.lstrip("/").startswith("api/") and not any(
                    k.lower() == b"cache-control" for k, _ in headers
                ):  # what an API answer holds (the parties of a case, the audit log) is one
                    # user's to see: no browser or proxy keeps it, errors included, unless the
                    # handler says otherwise (a form version never changes: api/forms.py)
                    headers.append((b"cache-control", b"no-store"))
                headers = _weak_etag(headers)
                if asked is not None and status == 200 and _matches(asked, headers):
                    message = {**message, "status": 304}
                    seen["status"], seen["bodiless"] = 304, True
                    headers = [(k, v) for k, v in headers if k.lower() not in BODY_HEADERS]
                if docs and path in DOCS_DOCUMENTS:
                    headers += DOCS_CORS
                if status == 405 or (method == "OPTIONS" and status < 300):
                    listed = [v for k, v in headers if k.lower() == b"allow"]
                    if listed:
                        template = inner.get("path_template")
                        methods = routes.get(template) if status < 300 and template else None
                        allow = _allow(methods or listed[0].decode().split(","))
                        headers = [(k, v) for k, v in headers if k.lower() != b"allow"]
                        headers.append((b"allow", allow))
                message = {**message, "headers": headers}
            elif message["type"] == "http.response.body":
                if seen["bodiless"]:
                    # HEAD, or a 304: the first body message ends the response; what follows
                    # (a stream) is dropped, and the server tells the app the client is gone
                    if seen["ended"]:
                        return
                    seen["ended"] = True
                    message = {"type": "http.response.body", "body": b"", "more_body": False}
                seen["bytes"] += len(message.get("body", b""))
            await send(message)

        async def answer(status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
            """A whole response the edge gives itself, through the same headers as the app's."""
            headers = [*headers, (b"content-length", str(len(body)).encode())]
            start: Message = {"type": "http.response.start", "status": status, "headers": headers}
            await send_wrapper(start)
            end: Message = {"type": "http.response.body", "body": body, "more_body": False}
            await send_wrapper(end)

        try:
            if path == "/app":  # the app's relative URLs need the slash: /app/app.js, not /app.js
                # a relative reference (RFC 9110 10.2.2), resolved against the URL the client
                # asked for: `https://host/coso/app` (a proxy serving coso at a sub-path and
                # stripping it) goes on to `https://host/coso/app/`, where `/app/` left it
                query = scope.get("query_string", b"")
                await answer(308, [(b"location", b"app/" + (b"?" + query if query else b""))], b"")
            elif (wrong := _not_one_url(http)) is not None:
                body = problem_json(404, "not_found", f"no such resource: {wrong}")
                await answer(404, [(b"content-type", b"application/problem+json")], body)
            else:
                await app(cast(Scope, inner), receive, send_wrapper)
        finally:
            user = inner.get("user")
            access_log.info(
                json.dumps(
                    {
                        "method": scope.get("method"),
                        "path": path,
                        "status": seen["status"],
                        "ms": round((time.perf_counter() - started) * 1000, 2),
                        "bytes": seen["bytes"],
                        "user": getattr(user, "name", None),
                        "client": (scope.get("client") or ("", 0))[0],
                    },
                    ensure_ascii=False,
                )
            )

    return middleware
