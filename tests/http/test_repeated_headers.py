"""A header sent on several lines, over a raw socket to a real `coso serve` (the test client
joins them into one line before the app sees them): a list header's lines are one list, their
values joined (RFC 9110 5.3); a header that is no list, given twice, is refused."""

from __future__ import annotations

import gzip
import json
import socket
from collections.abc import Iterator
from typing import Any

import msgspec
import pytest

from tests.support import RunningServer, cli_add_user, running_server

BODY = json.dumps({"device_id": "phone-raw", "submissions": []}).encode()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningServer, str]]:
    tmp = tmp_path_factory.mktemp("headers")
    token = cli_add_user(tmp / "coso.db", "quan-tri", "admin", "")
    with running_server(tmp / "coso.db", tmp / "server.log") as srv:
        yield srv, token


def _post(
    server: tuple[RunningServer, str], path: str, headers: list[tuple[str, str]], body: bytes
) -> tuple[int, dict[str, Any]]:
    """POST `body` with `headers` as written, each tuple a line of its own; (status, JSON)."""
    srv, token = server
    lines = [
        f"POST {path} HTTP/1.1",
        "Host: 127.0.0.1",
        "Connection: close",
        f"Authorization: Bearer {token}",
        f"Content-Length: {len(body)}",
        *(f"{name}: {value}" for name, value in headers),
    ]
    with socket.create_connection(("127.0.0.1", srv.port), timeout=30) as sock:
        sock.sendall("\r\n".join(lines).encode("latin-1") + b"\r\n\r\n" + body)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    head, _, content = answer.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), json.loads(content)


@pytest.mark.parametrize(
    ("path", "types"),
    [
        ("/api/v1/sync/push", ("application/json", "application/msgpack")),
        ("/api/v1/sync/push", ("application/msgpack", "application/json")),
        ("/api/v1/sync/push", ("application/json", "application/json")),
        ("/api/v1/forms", ("application/yaml", "application/json")),
    ],
)
def test_two_content_type_lines_are_refused(
    server: tuple[RunningServer, str], path: str, types: tuple[str, str]
) -> None:
    """Content-Type is no list (RFC 9110 8.3): the first line alone was read, while a proxy
    may have read the other. Refused as two Authorization headers are."""
    status, problem = _post(server, path, [("Content-Type", t) for t in types], BODY)
    assert status == 400, problem
    assert problem["code"] == "bad_request"
    assert [(e["path"], e["code"]) for e in problem["errors"]] == [("Content-Type", "duplicate")]
    assert problem["errors"][0]["message"].startswith("Bị trùng / ")


@pytest.mark.parametrize(
    ("codings", "body"),
    [
        (("gzip", "gzip"), gzip.compress(gzip.compress(BODY))),
        (("gzip", "identity"), gzip.compress(BODY)),
        (("identity", "gzip"), gzip.compress(BODY)),
    ],
    ids=["gzip-gzip", "gzip-identity", "identity-gzip"],
)
def test_content_encoding_on_two_lines_is_the_list_of_both(
    server: tuple[RunningServer, str], codings: tuple[str, str], body: bytes
) -> None:
    """The first line alone was read: `gzip` + `gzip` inflated once, `gzip` + `identity` was
    taken as gzip. Each is answered as its one-line spelling (`gzip, gzip`) is."""
    json_type = [("Content-Type", "application/json")]
    two = _post(
        server, "/api/v1/sync/push", [*json_type, *(("Content-Encoding", c) for c in codings)], body
    )
    one = _post(
        server, "/api/v1/sync/push", [*json_type, ("Content-Encoding", ", ".join(codings))], body
    )
    assert two == one
    assert two[0] == 415 and two[1]["code"] == "unsupported_encoding", two


def test_one_line_of_each_still_works(server: tuple[RunningServer, str]) -> None:
    headers = [("Content-Type", "application/json"), ("Content-Encoding", "gzip")]
    status, answer = _post(server, "/api/v1/sync/push", headers, gzip.compress(BODY))
    assert status == 200 and answer["results"] == [], answer


def _get(
    server: tuple[RunningServer, str], path: str, headers: list[tuple[str, str]]
) -> tuple[int, dict[str, str], bytes]:
    """GET with `headers` as written, each tuple a line of its own; (status, headers, body)."""
    srv, token = server
    lines = [
        f"GET {path} HTTP/1.1",
        "Host: 127.0.0.1",
        "Connection: close",
        f"Authorization: Bearer {token}",
        *(f"{name}: {value}" for name, value in headers),
    ]
    with socket.create_connection(("127.0.0.1", srv.port), timeout=30) as sock:
        sock.sendall("\r\n".join(lines).encode("latin-1") + b"\r\n\r\n")
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    head, _, content = answer.partition(b"\r\n\r\n")
    status, *fields = head.decode("latin-1").split("\r\n")
    named = dict(f.split(": ", 1) for f in fields)
    return int(status.split(" ", 2)[1]), {k.lower(): v for k, v in named.items()}, content


@pytest.mark.parametrize("path", ["/api/v1/forms", "/api/v1/forms/hoa_giai/versions/1"])
@pytest.mark.parametrize("second", ["etag", "*"])
def test_if_none_match_on_two_lines_is_the_list_of_both(
    server: tuple[RunningServer, str], path: str, second: str
) -> None:
    """The first line alone was read: a phone's cached ETag on the second line (a proxy
    adding its own) got the whole answer again, 200, where one line gave 304."""
    status, headers, _ = _get(server, path, [])
    assert status == 200
    tag = headers["etag"] if second == "etag" else "*"
    status, headers, body = _get(server, path, [("If-None-Match", '"a"'), ("If-None-Match", tag)])
    assert (status, body) == (304, b"")
    status, _, _ = _get(server, path, [("If-None-Match", '"a"'), ("If-None-Match", '"b"')])
    assert status == 200


def test_accept_on_two_lines_is_the_list_of_both(server: tuple[RunningServer, str]) -> None:
    """`Accept: application/json;q=0.1` then `Accept: application/msgpack` prefers MessagePack,
    as the one line `application/json;q=0.1, application/msgpack` does."""
    accept = [("Accept", "application/json;q=0.1"), ("Accept", "application/msgpack")]
    status, headers, body = _get(server, "/api/v1/forms", accept)
    assert status == 200 and headers["content-type"].startswith("application/msgpack"), headers
    assert "hoa_giai" in {f["form_id"] for f in msgspec.msgpack.decode(body)["forms"]}
