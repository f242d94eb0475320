"""A batch split into its items without recursion, for a body nested deeper than the decoders
go (msgspec and the standard parser stop at Python's recursion limit, about 1,000 levels): the
envelope is decoded without its items, and each item's bytes are handed on as they are, so a
deep item is refused on its own and the others are stored (one bad item never costs the rest).

JSON is read with a stack instead of recursion, and checked whole on the way (a body that is
not JSON is still a 400, deep item or not); MessagePack by counting the objects still to read.
"""

from __future__ import annotations

import re
from typing import Any, TypeVar

import msgspec

T = TypeVar("T")
ITEMS = "submissions"

# a JSON string (no raw control character in it), or one structural character; what lies
# between them must be a number, true, false or null where a value goes, or nothing
_JSON_TOKENS = re.compile(rb'"(?:[^"\\\x00-\x1f]|\\["\\/bfnrt]|\\u[0-9a-fA-F]{4})*"|[\[\]{},:]')
_LITERAL = re.compile(rb"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?|true|false|null")
_SPACE = b" \t\n\r"
_CLOSER = {b"{": b"}", b"[": b"]"}
_UNREADABLE = (
    ValueError,  # not MessagePack, or not JSON (msgspec's DecodeError is a ValueError too)
    IndexError,  # cut short
    RecursionError,  # a MessagePack key nested past the decoder
    msgspec.ValidationError,
)


def split_deep_batch(body: bytes, type_: type[T], *, msgpack: bool, most: int) -> T | None:
    """`body` (an object whose `submissions` is an array) as `type_` with each item kept as
    `msgspec.Raw`; None when it is not that shape, not JSON (or MessagePack) at all, or a part
    outside the items is at fault. Past `most` items it stops, with `most` + 1 of them, for
    the caller to refuse: 10 MiB of tiny items had made millions of objects first."""
    codec = msgspec.msgpack if msgpack else msgspec.json
    try:
        entries = _entries(body, msgpack)
        found = [value for key, value in entries or () if key == ITEMS]
        items = _elements(found[0], msgpack, most + 1) if len(found) == 1 else None
        if entries is None or items is None:
            return None
        head: Any = {key: codec.decode(value) for key, value in entries if key != ITEMS}
        head[ITEMS] = []
        result = msgspec.convert(head, type_)
    except _UNREADABLE:
        return None
    result.submissions = [msgspec.Raw(item) for item in items]  # type: ignore[attr-defined]
    return result


def top_ident(raw: bytes, *, msgpack: bool) -> tuple[str | None, str | None]:
    """(id, record_id) of an item too deep to decode, where they are strings (a new record's
    record_id is its id); (None, None) for one that is not an object."""
    codec = msgspec.msgpack if msgpack else msgspec.json
    try:
        entries = dict(_entries(raw, msgpack) or ())
        values = {k: codec.decode(entries[k]) for k in ("id", "record_id") if k in entries}
    except _UNREADABLE:
        return None, None
    sid = values.get("id") if isinstance(values.get("id"), str) else None
    rid = values.get("record_id")
    return sid, (sid if rid is None else rid if isinstance(rid, str) else None)


def _entries(body: bytes, msgpack: bool) -> list[tuple[str, bytes]] | None:
    """(key, value bytes) of the top-level object, in order; None when it is not one."""
    if msgpack:
        return _msgpack_top(body, maps=True)
    children = _json_top(body, b"{")
    if children is None:
        return None
    return [(msgspec.json.decode(key), value) for key, value in children]  # type: ignore[arg-type]


def _elements(body: bytes, msgpack: bool, most: int | None = None) -> list[bytes] | None:
    """The bytes of each element of the top-level array, or of its first `most` (the rest
    unread); None when it is not one."""
    children = _msgpack_top(body, maps=False, most=most) if msgpack else _json_top(body, b"[", most)
    return None if children is None else [value for _, value in children]


# --- JSON ---------------------------------------------------------------------------------

VALUE, VALUE_OR_END, KEY, KEY_OR_END, COLON, NEXT, DONE = range(7)


def _json_top(
    body: bytes, container: bytes, most: int | None = None
) -> list[tuple[bytes | None, bytes]] | None:
    """The children of `body`'s top-level object (`container` b"{") or array (b"["): (key,
    value bytes), the key as its JSON string (None in an array). The whole body is checked to
    be JSON on the way; None when it is not, or is not that container. With `most`, only the
    first `most` children, the rest of the body unread."""
    stack: list[bytes] = []
    expect = VALUE
    children: list[tuple[bytes | None, bytes]] = []
    key: bytes | None = None
    start = pos = 0
    for match in _JSON_TOKENS.finditer(body):
        gap, token = body[pos : match.start()].strip(_SPACE), match.group()
        pos = match.end()
        if gap:  # a number, true, false or null
            if expect not in (VALUE, VALUE_OR_END) or not _LITERAL.fullmatch(gap):
                return None
            expect = NEXT if stack else DONE
        top = len(stack) == 1  # this token is the top container's own
        if token[:1] == b'"':
            if expect in (KEY, KEY_OR_END):
                expect, key = COLON, token if top else key
            elif expect in (VALUE, VALUE_OR_END):
                expect = NEXT if stack else DONE
            else:
                return None
        elif token in _CLOSER:  # { [
            if expect not in (VALUE, VALUE_OR_END):
                return None
            if not stack:
                if token != container:
                    return None
                start = match.end()
            stack.append(token)
            expect = KEY_OR_END if token == b"{" else VALUE_OR_END
        elif token == b":":
            if expect != COLON:
                return None
            expect, start = VALUE, (match.end() if top else start)
        else:  # , } ]
            opener = stack[-1] if stack else None
            if token == b",":
                fits = expect == NEXT
            else:  # closes what is open, after a value or right after the opening
                empty = KEY_OR_END if token == b"}" else VALUE_OR_END
                fits = opener is not None and _CLOSER[opener] == token and expect in (NEXT, empty)
            if not fits:
                return None
            if top and expect == NEXT:  # a child of the top container ends here
                children.append((key, body[start : match.start()].strip(_SPACE)))
                start = match.end()
                if most is not None and len(children) >= most:
                    return children
            if token == b",":
                expect = KEY if opener == b"{" else VALUE
            else:
                stack.pop()
                expect = NEXT if stack else DONE
    if body[pos:].strip(_SPACE) or expect != DONE:
        return None  # cut short, or something after the top container
    return children


# --- MessagePack ----------------------------------------------------------------------------


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


def _msgpack_top(
    body: bytes, *, maps: bool, most: int | None = None
) -> list[tuple[Any, bytes]] | None:
    """The children of `body`'s top-level map (key, value bytes; a key decoded, a string or
    None when it is not one) or array (None, element bytes); None when it is not that, or
    has bytes after it. With `most`, only the first `most` children, the rest unread."""
    b = body[0]
    if (0x80 if maps else 0x90) <= b <= (0x8F if maps else 0x9F):
        count, pos = b & 0x0F, 1
    elif b in ((0xDE, 0xDF) if maps else (0xDC, 0xDD)):
        width = 2 if b in (0xDE, 0xDC) else 4
        count, pos = int.from_bytes(body[1 : 1 + width], "big"), 1 + width
    else:
        return None
    children: list[tuple[Any, bytes]] = []
    for _ in range(count):
        key = None
        if maps:
            key_end = _msgpack_end(body, pos)
            key = msgspec.msgpack.decode(body[pos:key_end])
            if not isinstance(key, str):
                return None
            pos = key_end
        end = _msgpack_end(body, pos)
        children.append((key, body[pos:end]))
        pos = end
        if most is not None and len(children) >= most:
            return children
    return children if pos == len(body) else None
