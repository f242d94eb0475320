"""What an outside attacker tried at the HTTP edge of a real `coso serve`: paths the app's
static files cannot have, and the docs pages, whose scripts come from third-party CDNs and
must not run with the app's origin (the officers' tokens and cases live in its IndexedDB)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support import RunningServer, assert_problem, running_server


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    tmp = tmp_path_factory.mktemp("edge")
    with running_server(tmp / "coso.db", tmp / "server.log") as srv:
        yield srv


def _get(server: RunningServer, raw_path: str) -> httpx.Response:
    # the path exactly as written: httpx would otherwise normalise `..` and re-encode
    with httpx.Client(base_url=server.url, timeout=30) as client:
        request = client.build_request("GET", "/")
        request.url = request.url.copy_with(raw_path=raw_path.encode())
        return client.send(request)


@pytest.mark.parametrize(
    "raw_path",
    [
        "/app/app.js%00.png",
        "/app/%00",
        "/app/index.html%00",
        "/app/%2e%2e/server/auth.py%00",
    ],
)
def test_a_nul_byte_in_an_app_path_is_not_found_never_a_500(
    server: RunningServer, raw_path: str
) -> None:
    r = _get(server, raw_path)
    assert r.status_code == 404, r.text
    assert_problem(r, 404)
    assert "Traceback" not in Path(server.log).read_text("utf-8", errors="replace")


@pytest.mark.parametrize(
    "raw_path",
    [
        "/app/../server/auth.py",
        "/app/%2e%2e/server/auth.py",
        "/app/..%2fserver%2fauth.py",
        "/app/..%5cserver%5cauth.py",
        "/app/%2e%2e/%2e%2e/etc/passwd",
        "/app/.%2e/pyproject.toml",
        "/app/%252e%252e/pyproject.toml",
    ],
)
def test_no_path_leaves_the_app_directory(server: RunningServer, raw_path: str) -> None:
    r = _get(server, raw_path)
    assert r.status_code == 404, r.text
    assert "import" not in r.text and "root:" not in r.text


@pytest.mark.parametrize(
    "raw_path",
    [
        "//api/v1/records",
        "///api/v1/me",
        "//api/v1/forms?x=1",
        "//app/",
        "//app",
        "//app/app.js",
        "//healthz",
        "//schema",
        "//",
    ],
)
@pytest.mark.parametrize("method", ["GET", "HEAD", "POST"])
def test_a_leading_empty_segment_is_no_resource(
    server: RunningServer, raw_path: str, method: str
) -> None:
    """`//api/v1/records` was routed as `/api/v1/records` (and `//healthz`, `//app/` as theirs):
    a second URL for each, which an empty segment elsewhere in an API path is not."""
    with httpx.Client(base_url=server.url, timeout=30) as client:
        request = client.build_request(method, "/")
        request.url = request.url.copy_with(raw_path=raw_path.encode())
        r = client.send(request)
    assert r.status_code == 404, (method, raw_path, r.status_code)
    assert r.headers["content-type"] == "application/problem+json"
    if method != "HEAD":
        assert assert_problem(r, 404)["code"] == "not_found"


@pytest.mark.parametrize(("path", "status"), [("/", 302), ("/app", 308), ("/app/", 200)])
def test_the_app_is_still_reached_from_the_server_address(
    server: RunningServer, path: str, status: int
) -> None:
    assert _get(server, path).status_code == status


@pytest.mark.parametrize(
    "path", ["/schema", "/schema/redoc", "/schema/swagger", "/schema/elements", "/schema/rapidoc"]
)
def test_the_docs_pages_run_in_a_sandbox_without_the_app_origin(
    server: RunningServer, path: str
) -> None:
    """A docs page loads scripts from CDNs (redoc's `latest`, unpinned, no integrity check):
    with `sandbox` and no `allow-same-origin` they run in an opaque origin, so they cannot
    read the officers' tokens and cases in the app's IndexedDB, nor its service worker."""
    r = httpx.get(server.url + path, timeout=30)
    assert r.status_code == 200
    policy = {
        d.split()[0]: d.split()[1:]
        for d in r.headers["content-security-policy"].split(";")
        if d.strip()
    }
    assert "sandbox" in policy
    assert "allow-same-origin" not in policy["sandbox"]
    assert "allow-scripts" in policy["sandbox"]
    assert policy["frame-ancestors"] == ["'none'"]


@pytest.mark.parametrize("path", ["/schema/openapi.json", "/schema/openapi.yaml"])
def test_the_sandboxed_docs_pages_may_still_read_the_public_schema(
    server: RunningServer, path: str
) -> None:
    """rapidoc and elements fetch the document from their opaque origin (`Origin: null`)."""
    r = httpx.get(server.url + path, headers={"Origin": "null"}, timeout=30)
    assert r.status_code == 200
    assert r.headers["access-control-allow-origin"] == "*"
    assert "access-control-allow-credentials" not in r.headers


def test_the_api_itself_grants_no_other_origin(server: RunningServer) -> None:
    r = httpx.get(server.url + "/api/v1/forms", headers={"Origin": "null"}, timeout=30)
    assert "access-control-allow-origin" not in r.headers
