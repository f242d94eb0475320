"""The batch splitter that reads without recursion (server/split.py) finds exactly the
items and envelope fields that the decoders find, for any JSON or MessagePack batch, and
takes as JSON exactly what the decoder takes."""

from __future__ import annotations

import json
from typing import Any

import msgspec
from hypothesis import given
from hypothesis import strategies as st

from server.protocol import PushEnvelope
from server.split import _elements, _entries, _json_top, split_deep_batch, top_ident

# text with what a scanner could trip on: quotes, backslashes, brackets, commas, colons
tricky = st.text(alphabet=st.sampled_from('ab"\\[]{},: \n\u00e9\u1ec7\U0001f600'), max_size=8)
scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | tricky
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(tricky, inner, max_size=4),
    max_leaves=20,
)
envelopes = st.fixed_dictionaries(
    {"device_id": tricky.filter(bool), "submissions": st.lists(values, max_size=6)},
    optional={"exported_at": values},  # a key the envelope reads past (the app's outbox file)
)


@given(envelopes, st.sampled_from([None, 1, 2]), st.booleans())
def test_json_batches_split_as_the_parser_reads_them(
    envelope: dict[str, Any], indent: int | None, ascii_only: bool
) -> None:
    body = json.dumps(envelope, indent=indent, ensure_ascii=ascii_only).encode()
    entries = _entries(body, msgpack=False)
    assert entries is not None
    assert {k: json.loads(v) for k, v in entries} == envelope
    items = _elements(dict(entries)["submissions"], msgpack=False)
    assert items is not None
    assert [json.loads(item) for item in items] == envelope["submissions"]
    split = split_deep_batch(body, PushEnvelope, msgpack=False, most=1000)
    assert split is not None
    assert split.device_id == envelope["device_id"]
    assert [msgspec.json.decode(r) for r in split.submissions] == envelope["submissions"]


@given(envelopes, st.binary(max_size=40))
def test_msgpack_batches_split_as_the_decoder_reads_them(
    envelope: dict[str, Any], blob: bytes
) -> None:
    envelope = {**envelope, "submissions": [*envelope["submissions"], blob]}
    body = msgspec.msgpack.encode(envelope)
    entries = _entries(body, msgpack=True)
    assert entries is not None
    assert {k: msgspec.msgpack.decode(v) for k, v in entries} == envelope
    items = _elements(dict(entries)["submissions"], msgpack=True)
    assert items is not None
    assert [msgspec.msgpack.decode(item) for item in items] == envelope["submissions"]


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


@given(values, st.data())
def test_json_is_taken_exactly_when_the_decoder_takes_it(value: Any, data: st.DataObject) -> None:
    """Mangled JSON (a character dropped, doubled or replaced; something added at the end):
    the stack reader refuses exactly what the parser refuses, so a deep item never makes a
    body that is not JSON pass (it stays a 400)."""
    text = json.dumps({"v": value}, ensure_ascii=True)
    i = data.draw(st.integers(0, len(text)))
    junk = data.draw(st.sampled_from([*'{}[],:"0 x-.eE', "true", "nul", "\\", "\\q"]))
    how = data.draw(st.sampled_from(["drop", "double", "replace", "insert", "append"]))
    if how == "drop":
        text = text[:i] + text[i + 1 :]
    elif how == "double":
        text = text[:i] + text[i : i + 1] * 2 + text[i + 1 :]
    elif how == "replace":
        text = text[:i] + junk + text[i + 1 :]
    elif how == "insert":
        text = text[:i] + junk + text[i:]
    else:
        text += junk
    body = text.encode()
    try:  # the standard parser as the judge: it reads a lone surrogate escape, which push
        # refuses item by item, and a number past a float's range, as JSON (msgspec does not)
        decoded = json.loads(text, parse_constant=_no_constants)
    except ValueError:
        decoded = None
    taken = _json_top(body, b"{")
    assert (taken is not None) == isinstance(decoded, dict), text


@given(st.binary(max_size=60))
def test_any_bytes_give_items_or_none_never_an_error(body: bytes) -> None:
    for msgpack in (False, True):
        split_deep_batch(body, PushEnvelope, msgpack=msgpack, most=1000)
        top_ident(body, msgpack=msgpack)


def test_the_ids_of_an_item_too_deep_to_decode() -> None:
    deep = b"[" * 5000 + b"]" * 5000
    item = b'{"data": {"x": ' + deep + b'}, "id": "A", "record_id": "B"}'
    assert top_ident(item, msgpack=False) == ("A", "B")
    assert top_ident(item.replace(b', "record_id": "B"', b""), msgpack=False) == ("A", "A")
    packed = b"\x82\xa4data" + b"\x91" * 5000 + b"\xc0" + b"\xa2id\xa1A"
    assert top_ident(packed, msgpack=True) == ("A", "A")
    assert top_ident(deep, msgpack=False) == (None, None)
