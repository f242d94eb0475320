"""Hardening: body size caps on every endpoint that reads a body (gzip bombs included), a
timeout for slow bodies, security headers and the app's Content-Security-Policy, the limit on
failed sign-ins, no token in any log record, and a constant-time token check."""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
import random
import time
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import anyio
import msgspec
import pytest
from click.testing import CliRunner
from litestar.testing import TestClient

from server import auth
from server.api import body as body_module
from server.app import Settings, create_app
from server.cli import main
from server.errors import Unauthorized
from server.protocol import MAX_BODY_BYTES
from server.store_schema import User
from server.web import FailedAuthLimiter
from tests.conftest import Api
from tests.support import asgi_scope, assert_problem, hoa_giai, latest_version, submission

MiB = 1024 * 1024
RECORD = "0197a3c2-5b1e-7c3d-9a4f-2e6b8d0c1a35"
# Every route that reads a body: (method, route) -> (url, cap in bytes after inflating)
BODY_LIMITS = {
    ("POST", "/api/v1/sync/push"): ("/api/v1/sync/push", MAX_BODY_BYTES),
    ("POST", "/api/v1/forms"): ("/api/v1/forms", 2 * MiB),
    ("POST", "/api/v1/records/{record_id:str}/resolve"): (
        f"/api/v1/records/{RECORD}/resolve",
        1 * MiB,
    ),
}


def test_every_route_with_a_body_has_a_cap(api: Api) -> None:
    with_body = {
        (method, path)
        for path, handlers in api.client.app.route_handler_method_map.items()
        for method in handlers
        if method in ("POST", "PUT", "PATCH", "DELETE")
    }
    assert with_body == set(BODY_LIMITS)


def _over(limit: int) -> bytes:
    """JSON text one byte over `limit`: a string the size of the cap."""
    return b'{"x": "' + b"a" * (limit - 8) + b'"}'


@pytest.mark.parametrize("route", sorted(BODY_LIMITS))
def test_a_body_over_the_cap_is_413(api: Api, route: tuple[str, str]) -> None:
    url, limit = BODY_LIMITS[route]
    body = _over(limit)
    assert len(body) == limit + 1
    headers = {**api.auth("admin"), "Content-Type": "application/json"}
    r = api.client.post(url, content=body, headers=headers)
    problem = assert_problem(r, 413)
    assert problem["code"] == "body_too_large"  # one code for one limit, however it trips
    assert "bytes" in problem["detail"]  # and the limit named


@pytest.mark.parametrize("route", sorted(BODY_LIMITS))
def test_a_chunked_body_over_the_cap_is_413(api: Api, route: tuple[str, str]) -> None:
    """No Content-Length to trust: the cap is counted while the body streams in."""
    url, limit = BODY_LIMITS[route]

    def chunks() -> Iterator[bytes]:
        yield b'{"x": "'
        for _ in range(limit // (256 * 1024) + 1):
            yield b"a" * 256 * 1024

    headers = {**api.auth("admin"), "Content-Type": "application/json"}
    r = api.client.post(url, content=chunks(), headers=headers)
    # ours, or litestar's own app-wide cap (the same 10 MiB as push's) when it trips first
    assert assert_problem(r, 413)["code"] == "body_too_large"


@pytest.mark.parametrize("route", sorted(BODY_LIMITS))
def test_a_gzip_bomb_is_413(api: Api, route: tuple[str, str]) -> None:
    """64 MiB of zeros in 64 KiB of gzip: refused as soon as the inflated size passes the cap."""
    url, _ = BODY_LIMITS[route]
    bomb = gzip.compress(b"\0" * 64 * MiB, compresslevel=9)
    assert len(bomb) < 100 * 1024
    headers = {
        **api.auth("admin"),
        "Content-Type": "application/json",
        "Content-Encoding": "gzip",
    }
    r = api.client.post(url, content=bomb, headers=headers)
    assert assert_problem(r, 413)["code"] == "body_too_large"


def test_a_gzipped_push_under_the_cap_is_read(api: Api) -> None:
    """The cap is on the inflated size, and a body under it goes through."""
    item = submission("hoa_giai", hoa_giai(random.Random(3)), version=2)
    body = gzip.compress(msgspec.json.encode({"device_id": "p", "submissions": [item]}))
    headers = {**api.auth("officer"), "Content-Encoding": "gzip"}
    r = api.client.post("/api/v1/sync/push", content=body, headers=headers)
    assert r.status_code == 200, r.text
    assert r.json()["results"][0]["status"] == "accepted"


def _asgi(
    api: Api,
    path: str,
    *,
    client: str = "127.0.0.1",
    token: str | None = None,
    receive: Any = None,
    method: str = "GET",
) -> list[dict[str, Any]]:
    """Call the running app straight over ASGI (a chosen client address, a hand-made body
    stream); returns the messages it sent."""
    headers = [(b"content-type", b"application/json")]
    if token:
        headers.append((b"authorization", f"Bearer {token}".encode()))
    scope = asgi_scope(method, path, headers, client=client)
    sent: list[dict[str, Any]] = []

    async def no_body() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    async def call() -> None:
        await api.client.app(scope, receive or no_body, send)

    api.client.blocking_portal.call(call)
    return sent


def test_a_body_that_stops_arriving_is_408(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    """A slow client cannot hold a request open: the whole body must arrive in BODY_SECONDS."""
    monkeypatch.setattr(body_module, "BODY_SECONDS", 0.3)
    first = True

    async def trickle() -> dict[str, Any]:
        nonlocal first
        if first:
            first = False
            return {"type": "http.request", "body": b'{"device_id": "p", ', "more_body": True}
        await anyio.sleep(3600)  # the rest never comes
        raise AssertionError("unreachable")

    sent = _asgi(
        api, "/api/v1/sync/push", token=api.tokens["officer"], receive=trickle, method="POST"
    )
    assert sent[0]["status"] == 408
    assert json.loads(sent[1]["body"])["code"] == "timeout"


# --- security headers -----------------------------------------------------------------


def csp(response: Any) -> dict[str, list[str]]:
    policy = response.headers["content-security-policy"]
    directives = [d.split() for d in policy.split(";") if d.strip()]
    return {d[0]: d[1:] for d in directives}


COMMON = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
}


@pytest.mark.parametrize(
    ("url", "who"),
    [
        ("/api/v1/me", "officer"),
        ("/api/v1/me", None),  # 401, raised by the auth middleware
        ("/api/v1/nothing", None),  # 404, from routing
        ("/api/v1/nothing", "officer"),
        ("/api/v1/records", "officer"),  # an error: 403
        ("/api/v1/forms", "officer"),
        ("/healthz", None),
    ],
)
def test_api_responses_carry_the_security_headers(api: Api, url: str, who: str | None) -> None:
    r = api.client.get(url, headers=api.auth(who) if who else {})
    assert r.status_code != 500
    for name, value in COMMON.items():
        assert r.headers[name] == value, (url, name)
    policy = csp(r)
    assert policy["default-src"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]


@pytest.mark.parametrize(
    ("url", "who"),
    [
        ("/api/v1/me", "officer"),
        ("/api/v1/records", "supervisor"),
        ("/api/v1/records/0197a3c2-5b1e-7c3d-9a4f-2e6b8d0c1a35", "supervisor"),  # 404
        ("/api/v1/sync/pull", "officer"),
        ("/api/v1/conflicts", "supervisor"),
        ("/api/v1/audit", "admin"),
        ("/api/v1/forms/hoa_giai/export?format=jsonl", "supervisor"),
        ("/api/v1/records/", "supervisor"),  # 404s of the edge (a regression probe)
        ("/api/v1//records", "supervisor"),
        ("/api/v1/records", None),  # 401, of the auth middleware
    ],
)
def test_answers_with_a_users_data_are_kept_by_no_cache(
    api: Api, url: str, who: str | None
) -> None:
    """Names, addresses and phone numbers of the parties of a case: a browser on a shared
    office computer or a proxy kept them on disk (no Cache-Control: found by a probe)."""
    r = api.client.get(url, headers=api.auth(who) if who else {})
    assert r.status_code in (200, 401, 404), r.text
    assert r.headers["cache-control"] == "no-store"
    # the forms say their own: asked about each time, or kept for good (a version never changes)
    r = api.client.get("/api/v1/forms", headers=api.auth("officer"))
    assert r.headers["cache-control"] == "private, no-cache"
    r = api.client.get("/api/v1/forms/hoa_giai/versions/1", headers=api.auth("officer"))
    assert r.headers["cache-control"] == "private, max-age=31536000, immutable"


@pytest.mark.parametrize(
    "url", ["/app/", "/app/index.html", "/app/app.js", "/app/sw.js", "/app/nothing.js"]
)
def test_the_app_has_a_strict_content_security_policy(api: Api, url: str) -> None:
    r = api.client.get(url)
    for name, value in COMMON.items():
        assert r.headers[name] == value, (url, name)
    policy = csp(r)
    assert policy["default-src"] == ["'self'"]
    assert policy["script-src"] == ["'self'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["object-src"] == ["'none'"]
    assert policy["base-uri"] == ["'none'"]
    for directive, sources in policy.items():
        for weak in ("'unsafe-inline'", "'unsafe-eval'", "*", "http:", "https:"):
            assert weak not in sources, (directive, weak)


class _Inline(HTMLParser):
    """What a strict CSP would block in a page: inline scripts, styles and handlers."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []
        self._in: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = {k for k, _ in attrs}
        if tag == "script" and "src" not in names:
            self._in = "inline <script>"
        if tag == "style":
            self.found.append("<style>")
        self.found += [f"{tag} {k}=" for k in names if k == "style" or k.startswith("on")]

    def handle_data(self, data: str) -> None:
        if self._in and data.strip():
            self.found.append(self._in)

    def handle_endtag(self, tag: str) -> None:
        self._in = None


def test_the_app_page_works_under_its_policy(api: Api) -> None:
    """No inline script, style or event handler in the page, which the policy would block."""
    page = _Inline()
    page.feed(api.client.get("/app/").text)
    assert page.found == []


def test_the_docs_pages_keep_the_common_headers(api: Api) -> None:
    """/schema renders litestar's docs pages (scripts from their CDN): a sandbox for a CSP
    there (tests/http/test_edge_probes.py), and the other headers still hold."""
    r = api.client.get("/schema/swagger")
    assert r.status_code == 200
    for name, value in COMMON.items():
        assert r.headers[name] == value


# --- failed authentication --------------------------------------------------------------


def test_twenty_bad_tokens_then_429_for_that_address_but_good_tokens_pass(api: Api) -> None:
    """The limit is per client address: once an address has failed 20 times in a minute, its
    further failures get 429 with Retry-After. A valid token still passes, because officers'
    phones share carrier NAT addresses and one revoked phone must not lock out the rest."""
    for i in range(20):
        r = api.client.get("/api/v1/me", headers={"Authorization": f"Bearer guess-{i}"})
        assert_problem(r, 401)
    r = api.client.get("/api/v1/me", headers={"Authorization": "Bearer guess-21"})
    assert assert_problem(r, 429)["code"] == "rate_limited"
    assert r.headers["retry-after"] == "60"
    r = api.client.get("/api/v1/me", headers=api.auth("officer"))
    assert r.status_code == 200
    assert api.client.get("/healthz").status_code == 200
    assert api.client.get("/app/").status_code == 200
    sent = _asgi(api, "/api/v1/me", client="203.0.113.9", token=api.tokens["officer"])
    assert sent[0]["status"] == 200


def test_the_failed_auth_limit_forgets_after_its_window(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [1000.0]
    monkeypatch.setattr("server.web.time.monotonic", lambda: clock[0])
    limiter = FailedAuthLimiter(limit=3, window=60)
    for _ in range(3):
        assert not limiter.blocked("198.51.100.1")
        limiter.failed("198.51.100.1")
    assert limiter.blocked("198.51.100.1")
    assert not limiter.blocked("198.51.100.2")
    clock[0] += 61
    assert not limiter.blocked("198.51.100.1")


# --- no token in the logs -------------------------------------------------------------


@pytest.fixture
def cli_user(tmp_path: Path) -> Iterator[tuple[TestClient[Any], str]]:
    """A user made by `coso users add` on a database file, and an app over that file (made
    before the test runs: litestar's logging set-up replaces the handlers caplog added)."""
    db = tmp_path / "coso.db"
    run = CliRunner().invoke(
        main, ["users", "add", "can-bo", "--role", "officer", "--area", "01.00070", "--db", db]
    )
    assert run.exit_code == 0, run.output
    with TestClient(create_app(Settings(db=str(db)))) as client:
        yield client, run.stdout.strip().splitlines()[-1]


def test_no_token_is_ever_written_to_a_log(
    api: Api, cli_user: tuple[TestClient[Any], str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    client, cli_token = cli_user
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {cli_token}"}).is_success
    client.get("/api/v1/me", headers={"Authorization": f"Bearer {cli_token}x"})
    item = submission("hoa_giai", hoa_giai(random.Random(5)), version=2)
    api.push("officer", [item])
    api.client.get("/api/v1/records", headers=api.auth("supervisor"))
    api.client.get("/api/v1/me", headers={"Authorization": "Bearer not-a-real-token"})

    secrets = [cli_token, *api.tokens.values(), "not-a-real-token"]
    access = [r for r in caplog.records if r.name == "coso.access"]
    assert len(access) == 5
    lines = [json.loads(record.getMessage()) for record in access]
    for line in lines:
        assert set(line) >= {"method", "path", "status", "ms", "user", "client"}
    assert {"path": "/api/v1/sync/push", "status": 200, "user": "officer"}.items() <= lines[
        -3
    ].items()
    assert {"path": "/api/v1/me", "status": 401, "user": None}.items() <= lines[-1].items()
    for record in caplog.records:
        text = record.getMessage() + repr(vars(record))
        for secret in secrets:
            assert secret not in text, (record.name, record.getMessage())


# --- the token check ------------------------------------------------------------------


class _PrefixStore:
    """A store whose lookup matches on a prefix of the hash, as a careless index might: the
    final comparison must still refuse anything but the whole hash."""

    def __init__(self, token: str) -> None:
        self.hash = auth.token_hash(token)

    def user_by_token_hash(self, token_hash: str) -> tuple[User, str, bool] | None:
        if token_hash[:3] == self.hash[:3]:
            return User(1, "officer", "officer", "01.00070"), self.hash, False
        return None


def test_the_token_check_compares_whole_hashes_in_constant_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    token = auth.new_token()
    store: Any = _PrefixStore(token)
    near = next(
        t
        for t in (f"guess-{i}" for i in range(1_000_000))
        if hashlib.sha256(t.encode()).hexdigest()[:3] == store.hash[:3]
    )
    compared: list[tuple[str, str]] = []
    real = auth.hmac.compare_digest

    def spy(a: Any, b: Any) -> bool:
        compared.append((a, b))
        return real(a, b)

    monkeypatch.setattr(auth.hmac, "compare_digest", spy)
    with pytest.raises(Unauthorized):
        auth.authenticate(store, f"Bearer {near}")
    assert compared == [(store.hash, auth.token_hash(near))]
    assert auth.authenticate(store, f"Bearer {token}").name == "officer"
    assert len(compared) == 2


def test_tokens_are_stored_only_as_hashes(api: Api) -> None:
    with api.store.read() as conn:
        stored = [r[0] for r in conn.execute("SELECT token_hash FROM users")]
    for token in api.tokens.values():
        assert token not in stored
        assert auth.token_hash(token) in stored


def test_the_bearer_scheme_is_case_insensitive(api: Api) -> None:
    token = api.tokens["officer"]
    for scheme in ("Bearer", "bearer", "BEARER"):
        r = api.client.get("/api/v1/me", headers={"Authorization": f"{scheme} {token}"})
        assert r.status_code == 200, scheme


def test_the_server_address_leads_to_the_app(api: Api) -> None:
    """A relative `Location` (RFC 9110 10.2.2): behind a proxy that serves coso at a sub-path
    (`https://host/coso/`, the prefix stripped), `/app/` led out of it, to `https://host/app/`.
    """
    r = api.client.get("/", follow_redirects=False)
    assert r.status_code in (301, 302, 307, 308)
    assert r.headers["location"] == "app/"
    assert urljoin("https://host/coso/", r.headers["location"]) == "https://host/coso/app/"


def test_the_app_without_its_slash_leads_to_the_app(api: Api) -> None:
    """`/app` would serve the page with its relative URLs resolving to `/app.js`, a 404: it
    redirects to `/app/` (keeping a query string), with the common headers."""
    r = api.client.get("/app?x=1", follow_redirects=False)
    assert r.status_code == 308
    assert r.headers["location"] == "app/?x=1"
    location = r.headers["location"]
    assert urljoin("https://host/coso/app?x=1", location) == "https://host/coso/app/?x=1"
    assert r.headers["x-content-type-options"] == "nosniff"
    r = api.client.get("/app/", follow_redirects=False)
    assert r.status_code == 200 and "text/html" in r.headers["content-type"]


def test_uptime_monitors_may_send_head_to_healthz(api: Api) -> None:
    r = api.client.head("/healthz")
    assert r.status_code == 200 and r.content == b""
    # RFC 9110 9.3.2: the length the GET's body has, though none comes
    assert r.headers["content-length"] == api.client.get("/healthz").headers["content-length"]


@pytest.mark.parametrize(
    ("path", "query"),
    [
        ("/api/v1/records", "form_id=tuyen_truyen&form_id=mo_hinh"),
        ("/api/v1/records", "limit=abc&limit=5"),
        ("/api/v1/records", "limit=5&limit%3D=1&lim%69t=6"),
        ("/api/v1/sync/pull", "since=&since="),
        ("/api/v1/forms/hoa_giai/export", "format=csv&format=jsonl"),
    ],
)
def test_a_query_parameter_given_twice_is_refused(api: Api, path: str, query: str) -> None:
    """No parameter of the API takes several values: the last one winning silently would
    answer another question than the one asked (records of one form, not of either)."""
    r = api.client.get(f"{path}?{query}", headers=api.auth("admin"))
    problem = assert_problem(r, 400)
    assert problem["code"] == "bad_parameter"
    assert problem["errors"][0]["code"] == "duplicate"
    assert api.client.get(
        f"{path}?{query.split('&')[-1]}", headers=api.auth("admin")
    ).status_code in (200, 400)


def test_a_parameter_given_thousands_of_times_is_refused_at_once(api: Api) -> None:
    """Each name was counted against every other: 20,000 `limit`s (a 120 KB query, which any
    officer's token may send) took 10 s of the server's CPU, and a few at once held every
    push for over a minute; 10,000 (what the test client sends), 3 s."""
    query = "&".join(["limit"] * 10_000)
    started = time.perf_counter()
    r = api.client.get(f"/api/v1/sync/pull?{query}", headers=api.auth("officer"))
    took = time.perf_counter() - started
    assert [(e["path"], e["code"]) for e in assert_problem(r, 400)["errors"]] == [
        ("limit", "duplicate")
    ]
    assert took < 1, took  # about 0.05 s


@pytest.mark.parametrize(
    ("who", "path", "query", "unknown"),
    [
        ("supervisor", "/api/v1/records", "formid=hoa_giai", ["formid"]),  # a typo
        ("supervisor", "/api/v1/records", "area=79&limit=5", ["area"]),  # export's, not this
        ("officer", "/api/v1/sync/pull", "form_id=hoa_giai", ["form_id"]),
        ("supervisor", "/api/v1/conflicts", "area=01", ["area"]),
        ("admin", "/api/v1/audit", "form_id=x&user=1", ["form_id", "user"]),
        ("officer", "/api/v1/forms", "_=1700000000", ["_"]),
        ("officer", "/api/v1/me", "", []),
        ("supervisor", "/api/v1/forms/hoa_giai/export", "fromat=xlsx", ["fromat"]),
    ],
)
def test_a_query_parameter_the_path_does_not_take_is_refused(
    api: Api, who: str, path: str, query: str, unknown: list[str]
) -> None:
    """A parameter the path does not take was ignored: `/records?formid=hoa_giai` (a typo)
    answered with every form's records, as if the filter had been read."""
    r = api.client.get(f"{path}?{query}", headers=api.auth(who))
    if not unknown:
        assert r.status_code == 200, r.text
        return
    problem = assert_problem(r, 400)
    assert problem["code"] == "bad_parameter"
    assert [(e["path"], e["code"]) for e in problem["errors"]] == [
        (name, "unknown_parameter") for name in unknown
    ]
    assert "Đường dẫn này không có tham số này / " in problem["errors"][0]["message"]


def test_options_answers_about_the_path_whatever_its_query(api: Api) -> None:
    """OPTIONS asks which methods a path takes: its query is not read (it was 400
    `unknown_parameter`, the automatic OPTIONS handler taking no parameters)."""
    for path in ("/api/v1/sync/push?x=1", "/api/v1/records?formid=x"):
        r = api.client.options(path)
        assert r.status_code == 204, r.text
        assert "GET" in r.headers["allow"] or "POST" in r.headers["allow"]


def test_two_authorization_headers_are_refused(api: Api) -> None:
    """Authorization is not a list (RFC 9110 11.6.2): with two, a proxy and the server could
    each take another one. Neither is taken, whichever comes first."""
    good, bad = api.auth("officer")["Authorization"], "Bearer not-a-token"
    for first, second in ((good, bad), (bad, good), (good, good)):
        r = api.client.get(
            "/api/v1/me", headers=[("Authorization", first), ("Authorization", second)]
        )
        problem = assert_problem(r, 400)
        assert problem["errors"][0]["path"] == "Authorization"
    assert api.client.get("/api/v1/me", headers=api.auth("officer")).status_code == 200


def test_an_item_with_many_errors_lists_fifty_and_counts_the_rest(api: Api) -> None:
    """Each unknown key of an item was one error: 1,000 items of 850 keys, 80 KB gzipped, had
    a 117 MB answer, and four such pushes took the server to 1.5 GB (found by a probe). An
    item lists its first 50 errors, then one `too_many_errors` saying how many more; the
    others in the batch are answered as ever."""
    rng = random.Random(7)
    version = latest_version("hoa_giai")
    data = hoa_giai(random.Random(8)) | {f"k{j:03}": 0 for j in range(850)}  # all else right
    noisy = submission("hoa_giai", data, version=version)
    good = submission("hoa_giai", hoa_giai(rng), version=version)
    body = {"device_id": "may-1", "submissions": [noisy, good]}
    r = api.client.post("/api/v1/sync/push", json=body, headers=api.auth("officer"))
    assert r.status_code == 200, r.text
    bad, fine = r.json()["results"]
    assert fine["status"] == "accepted"
    assert bad["status"] == "rejected" and len(bad["errors"]) == 51
    assert {e["code"] for e in bad["errors"][:50]} == {"unknown_field"}
    last = bad["errors"][50]
    assert (last["code"], last["path"]) == ("too_many_errors", "submissions[0].data.k050")
    assert "800 lỗi khác" in last["message"] and "800 more errors" in last["message"]
    assert len(r.content) < 20_000
