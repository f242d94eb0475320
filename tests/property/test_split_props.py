"""The batch splitter that reads without recursion (server/api/split.py) finds exactly the
items and envelope fields that the decoders find, for any JSON or MessagePack batch."""

from __future__ import annotations

import json
from typing import Any

import msgspec
from hypothesis import given
from hypothesis import strategies as st

from server.api.split import _json_parts, _msgpack_parts, split_deep_batch
from server.protocol import PushEnvelope

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
    optional={"extra": values},
)


@given(envelopes, st.sampled_from([None, 1, 2]), st.booleans())
def test_json_batches_split_as_the_parser_reads_them(
    envelope: dict[str, Any], indent: int | None, ascii_only: bool
) -> None:
    body = json.dumps(envelope, indent=indent, ensure_ascii=ascii_only).encode()
    parts = _json_parts(body)
    assert parts is not None
    fields, items = parts
    assert [json.loads(item) for item in items] == envelope["submissions"]
    rest = {k: v for k, v in envelope.items() if k != "submissions"}
    assert {k: json.loads(v) for k, v in fields} == rest
    split = split_deep_batch(body, PushEnvelope, msgpack=False)
    assert split is not None
    assert split.device_id == envelope["device_id"]
    assert [msgspec.json.decode(r) for r in split.submissions] == envelope["submissions"]


@given(envelopes, st.binary(max_size=40))
def test_msgpack_batches_split_as_the_decoder_reads_them(
    envelope: dict[str, Any], blob: bytes
) -> None:
    envelope = {**envelope, "submissions": [*envelope["submissions"], blob]}
    body = msgspec.msgpack.encode(envelope)
    parts = _msgpack_parts(body)
    assert parts is not None
    fields, items = parts
    assert [msgspec.msgpack.decode(item) for item in items] == envelope["submissions"]
    rest = {k: v for k, v in envelope.items() if k != "submissions"}
    assert {k: msgspec.msgpack.decode(v) for k, v in fields} == rest


@given(st.binary(max_size=60))
def test_any_bytes_give_items_or_none_never_an_error(body: bytes) -> None:
    for msgpack in (False, True):
        split_deep_batch(body, PushEnvelope, msgpack=msgpack)
