"""A batch split into its items without recursion, for a body nested deeper than the decoders
go (msgspec and the standard parser stop at Python's recursion limit, about 1,000 levels): the
envelope is decoded without its items, and each item's bytes are handed on as they are, so a
deep item is refused on its own and the others are stored (one bad item never costs the rest).
"""

from __future__ import annotations

import re
from typing import Any, TypeVar

import msgspec

T = TypeVar("T")
ITEMS = "submissions"

# a JSON string, or one structural character (numbers and literals need no attention)
_JSON_TOKENS = re.compile(rb'"(?:[^"\\]|\\.)*"|[\[\]{},:]', re.DOTALL)


def split_deep_batch(body: bytes, type_: type[T], *, msgpack: bool) -> T | None:
    """`body` (an object whose `submissions` is an array) as `type_` with each item kept as
    `msgspec.Raw`; None when it is not that shape, or a part outside the items is at fault."""
    try:
        parts = _msgpack_parts(body) if msgpack else _json_parts(body)
    except (ValueError, IndexError):
        return None
    if parts is None:
        return None
    envelope, items = parts
    codec = msgspec.msgpack if msgpack else msgspec.json
    try:
        head: Any = {key: codec.decode(value) for key, value in envelope}
        head[ITEMS] = []
        result = msgspec.convert(head, type_)
    except (msgspec.DecodeError, msgspec.ValidationError, RecursionError, UnicodeDecodeError):
        return None
    result.submissions = [msgspec.Raw(item) for item in items]  # type: ignore[attr-defined]
    return result


def _json_parts(body: bytes) -> tuple[list[tuple[str, bytes]], list[bytes]] | None:
    """([(key, value bytes)] of the top object but its items, [item bytes]), reading only
    strings and structural characters, with a depth count instead of recursion."""
    depth = 0
    envelope: list[tuple[str, bytes]] = []
    items: list[bytes] | None = None
    key: str | None = None  # the top object's key whose value is being read
    value_start = item_start = 0
    in_items = False
    for match in _JSON_TOKENS.finditer(body):
        token, at, end = match.group(), match.start(), match.end()
        if token[:1] == b'"':
            if depth == 1 and key is None:
                key = msgspec.json.decode(token)
        elif token == b":":
            value_start = end if depth == 1 else value_start
        elif token in (b"[", b"{"):
            if depth == 0 and token != b"{":
                return None
            depth += 1
            if depth == 2 and key == ITEMS and token == b"[" and not body[value_start:at].strip():
                if items is not None:  # "submissions" twice
                    return None
                in_items, items, item_start = True, [], end
        else:  # , ] }
            if in_items and depth == 2 and items is not None:
                piece = body[item_start:at].strip()
                if token == b",":
                    items.append(piece)
                    item_start = end
                elif piece or items:
                    items.append(piece)
                in_items = in_items and token == b","
            if depth == 1 and token != b"]" and key is not None:
                if key != ITEMS:
                    envelope.append((key, body[value_start:at].strip()))
                key = None
            if token != b",":
                depth -= 1
                if depth < 0:
                    return None
    return None if items is None or depth != 0 else (envelope, items)


def _msgpack_end(body: bytes, pos: int) -> int:
    """Where the MessagePack object starting at `pos` ends: a count of the objects still to
    read instead of recursion. IndexError or ValueError for a body cut short or not one."""
    todo = 1
    while todo:
        todo -= 1
        b = body[pos]
        if b <= 0x7F or b >= 0xE0 or b in (0xC0, 0xC2, 0xC3):  # fixint, nil, bool
            pos += 1
        elif b <= 0x8F:  # fixmap
            todo, pos = todo + 2 * (b & 0x0F), pos + 1
        elif b <= 0x9F:  # fixarray
            todo, pos = todo + (b & 0x0F), pos + 1
        elif b <= 0xBF:  # fixstr
            pos += 1 + (b & 0x1F)
        elif b in _SIZED:  # str, bin, ext: a length of 1, 2 or 4 bytes, then (ext) a type
            width, extra = _SIZED[b]
            pos += 1 + width + extra + int.from_bytes(body[pos + 1 : pos + 1 + width], "big")
        elif b in _FIXED:  # numbers and fixext
            pos += _FIXED[b]
        elif b in _CONTAINERS:  # array16/32, map16/32
            width, per = _CONTAINERS[b]
            todo += per * int.from_bytes(body[pos + 1 : pos + 1 + width], "big")
            pos += 1 + width
        else:  # 0xc1 is never used
            raise ValueError("not MessagePack")
        if pos > len(body):
            raise IndexError("cut short")
    return pos


_SIZED = {0xD9: (1, 0), 0xDA: (2, 0), 0xDB: (4, 0), 0xC4: (1, 0), 0xC5: (2, 0), 0xC6: (4, 0)}
_SIZED |= {0xC7: (1, 1), 0xC8: (2, 1), 0xC9: (4, 1)}
_FIXED = {0xCA: 5, 0xCB: 9, 0xCC: 2, 0xCD: 3, 0xCE: 5, 0xCF: 9, 0xD0: 2, 0xD1: 3, 0xD2: 5}
_FIXED |= {0xD3: 9, 0xD4: 3, 0xD5: 4, 0xD6: 6, 0xD7: 10, 0xD8: 18}
_CONTAINERS = {0xDC: (2, 1), 0xDD: (4, 1), 0xDE: (2, 2), 0xDF: (4, 2)}


def _msgpack_count(body: bytes, pos: int, maps: bool) -> tuple[int, int] | None:
    """(entries, where the first starts) of the array (or map) header at `pos`, or None."""
    b = body[pos]
    if (0x80 if maps else 0x90) <= b <= (0x8F if maps else 0x9F):
        return b & 0x0F, pos + 1
    for code, width in ((0xDE, 2), (0xDF, 4)) if maps else ((0xDC, 2), (0xDD, 4)):
        if b == code:
            return int.from_bytes(body[pos + 1 : pos + 1 + width], "big"), pos + 1 + width
    return None


def _msgpack_parts(body: bytes) -> tuple[list[tuple[str, bytes]], list[bytes]] | None:
    top = _msgpack_count(body, 0, maps=True)
    if top is None:
        return None
    entries, pos = top
    envelope: list[tuple[str, bytes]] = []
    items: list[bytes] | None = None
    for _ in range(entries):
        key_end = _msgpack_end(body, pos)
        key = msgspec.msgpack.decode(body[pos:key_end])
        end = _msgpack_end(body, key_end)
        if key == ITEMS:
            header = _msgpack_count(body, key_end, maps=False)
            if header is None or items is not None:
                return None
            items, at = [], header[1]
            for _ in range(header[0]):
                item_end = _msgpack_end(body, at)
                items.append(body[at:item_end])
                at = item_end
        elif isinstance(key, str):
            envelope.append((key, body[key_end:end]))
        else:
            return None
        pos = end
    return None if items is None or pos != len(body) else (envelope, items)
