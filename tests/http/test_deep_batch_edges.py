"""A batch with an item nested past the decoders (split without recursion, server/split.py):
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


def _deep_json(seed: int = 1) -> bytes:
    deep = _case(seed)
    deep["data"]["noi_dung_vu_viec"] = "PLACEHOLDER"
    nested = b"[" * 3_000 + b"]" * 3_000
    return msgspec.json.encode(deep).replace(b'"PLACEHOLDER"', nested)


def _json_batch(*items: bytes, tail: bytes = b"") -> bytes:
    return b'{"device_id":"p","submissions":[' + b",".join(items) + b"]}" + tail


def test_a_body_that_is_not_json_is_a_400_even_with_a_deep_item(api: Any) -> None:
    """A deep item made the splitter take what no parser takes: text after the envelope, a
    trailing or doubled comma, a string cut short. Each was a 200 that stored the good items
    (or answered one more item than was sent); it is a 400, and nothing is stored."""
    good = _case(2)
    raw_good = msgspec.json.encode(good)
    bodies = [
        _json_batch(_deep_json(), raw_good, tail=b" garbage"),
        _json_batch(_deep_json(), raw_good, tail=b'{"device_id":"x"}'),
        _json_batch(_deep_json(), raw_good, b""),  # a trailing comma
        _json_batch(_deep_json(), b"", raw_good),  # two commas in a row
        _json_batch(_deep_json(), b'{"id":"}'),  # a string cut short
        _json_batch(_deep_json(), raw_good)[:-1],  # the envelope cut short
    ]
    headers = {**api.auth("officer"), "Content-Type": "application/json"}
    for body in bodies:
        r = api.client.post(PUSH, content=body, headers=headers)
        assert_problem(r, 400)
    r = api.client.get(f"/api/v1/records/{good['id']}", headers=api.auth("supervisor"))
    assert r.status_code == 404
    r = api.client.post(PUSH, content=_json_batch(_deep_json(), raw_good), headers=headers)
    assert [x["status"] for x in r.json()["results"]] == ["rejected", "accepted"]


def test_an_item_too_deep_to_decode_is_answered_with_its_ids(api: Any) -> None:
    """Its id and record_id are read from its top level without recursion (they were null)."""
    headers = {**api.auth("officer"), "Content-Type": "application/json"}
    raw = _deep_json()
    deep = msgspec.json.decode(raw.replace(b"[" * 3_000 + b"]" * 3_000, b"0"))
    r = api.client.post(PUSH, content=_json_batch(raw), headers=headers)
    [result] = r.json()["results"]
    assert result["status"] == "rejected"
    assert (result["id"], result["record_id"]) == (deep["id"], deep["id"])
    assert result["errors"][0]["code"] == "too_deep"
    r = api.client.post(PUSH, content=_deep_item_body(), headers={**api.auth("officer"), **MSGPACK})
    first = r.json()["results"][0]
    assert first["status"] == "rejected" and first["id"] is not None
    assert first["record_id"] == first["id"]
