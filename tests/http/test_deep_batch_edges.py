"""A batch with an item nested past the decoders (split without recursion, server/api/split.py):
what the handler around the splitter must hold whatever the body holds."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import msgspec

from server.api import sync as sync_api
from tests.support import assert_problem, hoa_giai, submission

PUSH = "/api/v1/sync/push"
MSGPACK = {"Content-Type": "application/msgpack"}


def _case(seed: int) -> dict[str, Any]:
    return submission("hoa_giai", hoa_giai(random.Random(seed)), version=2)


def _deep_item_body(extra_entry: bytes = b"") -> bytes:
    """{device_id, submissions: [an item nested 3,000 deep, a good one]} as MessagePack, with
    `extra_entry` (a key and its value) as a third entry of the envelope when given."""
    enc = msgspec.msgpack.encode
    deep = _case(1)
    deep["data"]["noi_dung_vu_viec"] = "PLACEHOLDER"
    item = enc(deep).replace(b"\xabPLACEHOLDER", b"\x91" * 3_000 + b"\xc0")
    entries = 3 if extra_entry else 2
    return (
        bytes([0x80 | entries])
        + enc("device_id")
        + enc("p")
        + enc("submissions")
        + b"\x92"
        + item
        + enc(_case(2))
        + extra_entry
    )


def test_an_envelope_key_nested_past_the_decoder_is_a_400_not_a_500(api: Any) -> None:
    """MessagePack map keys may be any value: one nested 3,000 deep beside a deep item made the
    splitter's key decoding raise RecursionError, answered 500."""
    body = _deep_item_body(b"\x91" * 3_000 + b"\xc0" + b"\xc0")
    r = api.client.post(PUSH, content=body, headers={**api.auth("officer"), **MSGPACK})
    assert_problem(r, 400)


def test_a_deep_batch_is_split_off_the_event_loop(api: Any, monkeypatch: Any) -> None:
    """Splitting reads every byte in Python (a 10 MiB body took seconds, and /healthz waited
    all that time): it runs in a worker thread, like the rest of the push."""
    on_loop: list[bool] = []
    split = sync_api.split_deep_batch

    def spy(*args: Any, **kwargs: Any) -> Any:
        try:
            asyncio.get_running_loop()
            on_loop.append(True)
        except RuntimeError:
            on_loop.append(False)
        return split(*args, **kwargs)

    monkeypatch.setattr(sync_api, "split_deep_batch", spy)
    r = api.client.post(PUSH, content=_deep_item_body(), headers={**api.auth("officer"), **MSGPACK})
    assert r.status_code == 200, r.text
    assert [x["status"] for x in r.json()["results"]] == ["rejected", "accepted"]
    assert on_loop == [False]
