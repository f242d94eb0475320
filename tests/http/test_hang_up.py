"""A client that hangs up before its whole body has arrived: nothing is stored, and the
request ends as 499 (client closed request), never as a server error (the soak found these
as 500s in the access log: litestar reports the disconnect as an internal error)."""

from __future__ import annotations

import random
from typing import Any

import msgspec

from tests.support import asgi_scope, hoa_giai, submission


def _hang_up(api: Any, path: str, body: bytes) -> list[dict[str, Any]]:
    """Send half of `body` straight to the ASGI app, then a disconnect; the messages sent."""
    messages = iter(
        [
            {"type": "http.request", "body": body[: len(body) // 2], "more_body": True},
            {"type": "http.disconnect"},
        ]
    )
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return next(messages, {"type": "http.disconnect"})

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = asgi_scope(
        "POST",
        path,
        [
            (b"authorization", api.auth("officer")["Authorization"].encode()),
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ],
    )

    async def call() -> None:
        await api.client.app(scope, receive, send)

    api.client.blocking_portal.call(call)
    return sent


def test_push_hung_up_mid_body_is_499_and_stores_nothing(api: Any) -> None:
    item = submission("hoa_giai", hoa_giai(random.Random(1)), version=2)
    body = msgspec.json.encode({"device_id": "phone-1", "submissions": [item]})
    sent = _hang_up(api, "/api/v1/sync/push", body)
    assert sent[0]["type"] == "http.response.start"
    assert sent[0]["status"] == 499
    assert api.store.submissions_of([item["id"]])[item["id"]] == []
