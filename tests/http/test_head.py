"""HEAD wherever GET works (RFC 9110 9.3.2): the GET's status and headers (ETag,
Content-Length, Content-Type), no body; and `Allow` lists HEAD beside GET."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support import uuid7

KEPT = ("content-type", "content-length", "etag", "cache-control", "location", "allow")
KEPT += ("content-disposition", "coso-next-since")  # an export's (HEAD builds no XLSX)


def get_urls(app: Any) -> list[str]:
    """A URL for every route that answers GET."""
    urls = []
    for path, handlers in app.route_handler_method_map.items():
        if "GET" not in handlers:
            continue
        url = path.replace("{form_id:str}", "hoa_giai").replace("{version:str}", "2")
        url = url.replace("{record_id:str}", uuid7()).replace("{file_path:path}", "app.js")
        urls.append(url.replace("{path:str}", "x"))
    return urls


def test_head_is_get_without_the_body_on_every_get_route(api: Any) -> None:
    urls = get_urls(api.client.app)
    assert "/api/v1/forms/hoa_giai/versions/2" in urls and "/api/v1/records" in urls
    exports = [f"/api/v1/forms/hoa_giai/export?format={f}" for f in ("csv", "xlsx", "jsonl")]
    for url in [*urls, "/app", *exports]:
        got = api.client.get(url, headers=api.auth("admin"), follow_redirects=False)
        head = api.client.head(url, headers=api.auth("admin"), follow_redirects=False)
        assert head.status_code == got.status_code != 405, url
        assert head.content == b"", url
        for name in KEPT:
            assert head.headers.get(name) == got.headers.get(name), (url, name)


def test_head_answers_304_to_a_matching_etag(api: Any) -> None:
    url = "/api/v1/forms/hoa_giai/versions/2"
    etag = api.client.get(url, headers=api.auth("officer")).headers["etag"]
    r = api.client.head(url, headers={**api.auth("officer"), "If-None-Match": etag})
    assert r.status_code == 304 and r.headers["etag"] == etag and r.content == b""


def test_head_needs_the_token_get_needs(api: Any) -> None:
    r = api.client.head("/api/v1/me")
    assert r.status_code == 401 and r.content == b""
    assert r.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize(
    ("method", "url", "allow"),
    [
        ("PUT", "/api/v1/forms", "GET, HEAD, OPTIONS, POST"),
        ("DELETE", "/api/v1/me", "GET, HEAD, OPTIONS"),
        ("HEAD", "/api/v1/sync/push", "OPTIONS, POST"),  # HEAD only where GET is
        ("GET", "/api/v1/sync/push", "OPTIONS, POST"),
    ],
)
def test_a_405_allows_head_where_get_is(api: Any, method: str, url: str, allow: str) -> None:
    r = api.client.request(method, url, headers=api.auth("admin"))
    assert r.status_code == 405
    assert r.headers["allow"] == allow


def test_options_lists_every_method_of_a_path(api: Any) -> None:
    r = api.client.options("/api/v1/forms")
    assert r.status_code == 204
    assert r.headers["allow"] == "GET, HEAD, OPTIONS, POST"


@pytest.mark.parametrize("url", ["/app/", "/app/app.js", "/app/sw.js", "/app/icon-192.png"])
def test_the_apps_files_answer_304_to_a_phone_that_has_them(api: Any, url: str) -> None:
    """A phone revalidating a file of the app (the service worker checks sw.js, the browser
    its cached shell) downloads nothing when the file has not changed; one that changed
    comes whole. The files are always asked about (no-cache): a new shell is never missed."""
    first = api.client.get(url)
    assert first.status_code == 200 and first.content
    etag = first.headers["etag"]
    assert "no-cache" in first.headers["cache-control"]
    strong = etag.removeprefix("W/")
    for asked in (etag, strong, f'"other", {strong}', f'"other", {etag}', "*"):
        for method in ("GET", "HEAD"):
            again = api.client.request(method, url, headers={"If-None-Match": asked})
            assert again.status_code == 304, (asked, method)
            assert again.content == b""
            assert again.headers["etag"] == etag
            assert "content-length" not in again.headers or again.headers["content-length"] == "0"
    other = api.client.get(url, headers={"If-None-Match": '"not-this-one"'})
    assert other.status_code == 200 and other.content == first.content
