"""Request bodies in and responses out: size caps, gzip inflated as a stream under the cap,
JSON or MessagePack, and content negotiation for responses."""

from __future__ import annotations

import contextlib
import json
import threading
import zlib
from collections.abc import Iterator
from typing import Any, TypeVar

import anyio
import msgspec
from anyio.to_thread import run_sync
from litestar import Request, Response
from litestar.exceptions import InternalServerException

from server.errors import (
    ApiError,
    Invalid,
    Malformed,
    TooLarge,
    UnsupportedMedia,
    msgspec_code,
    msgspec_en,
    msgspec_path,
    msgspec_vi,
    msgspec_where,
    shape_errors,
)
from server.protocol import (
    LONE_SURROGATE,
    MAX_BODY_BYTES,
    FieldError,
    lone_surrogate_in,
    worth_rereading,
)
from server.web import qualities

T = TypeVar("T")
BODY_SECONDS = 120
MSGPACK = "application/msgpack"
# MessagePack's spellings, the registered one first: what clients send as Content-Type and
# name in Accept (the older x- one, and the vnd. one some libraries use)
MSGPACK_TYPES = (MSGPACK, "application/x-msgpack", "application/vnd.msgpack")
JSON = "application/json"


async def read_body(request: Request[Any, Any, Any], limit: int = MAX_BODY_BYTES) -> bytes:
    """The body, decompressed when `Content-Encoding: gzip`; 413 as soon as it passes `limit`
    (counted after inflating, so a small bomb never grows past the cap in memory); 408 when a
    slow client takes longer than BODY_SECONDS to send it."""
    try:
        with anyio.fail_after(BODY_SECONDS):
            return await _read_body(request, limit)
    except TimeoutError as exc:
        raise ApiError(
            f"the body took over {BODY_SECONDS} s to arrive", code="timeout", status=408
        ) from exc
    except InternalServerException as exc:
        if "disconnected" not in str(exc.detail):
            raise
        # litestar's word for a client that hung up mid-body: nothing was read or stored, and
        # no one is left to answer; 499 (client closed request) keeps it out of the 5xx
        raise ApiError(
            "the client closed the connection before its body arrived",
            code="client_closed",
            status=499,
        ) from exc


async def _read_body(request: Request[Any, Any, Any], limit: int) -> bytes:
    # several lines are one list, their values joined (RFC 9110 5.3): `gzip` twice is
    # `gzip, gzip`, refused as it is on one line, never read as its first line alone
    sent = request.headers.getall("content-encoding", [])
    encoding = ", ".join(v.strip() for v in sent).lower() if sent else "identity"
    if encoding == "x-gzip":  # RFC 9110 8.4.1.3: a recipient SHOULD take it as gzip
        encoding = "gzip"
    if encoding not in ("identity", "gzip"):
        said = f"Content-Encoding {encoding!r}: use gzip or none"
        raise UnsupportedMedia(
            said,
            code="unsupported_encoding",
            errors=[FieldError("Content-Encoding", "choice", said)],
        )
    inflater = _Gunzip() if encoding == "gzip" else None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        if inflater is not None:
            for piece in inflater.feed(chunk, limit + 1 - size):
                chunks.append(piece)
                size += len(piece)
        else:
            chunks.append(chunk)
            size += len(chunk)
        if size > limit:
            raise TooLarge(f"the body is over {limit} bytes", code="body_too_large")
    if inflater is not None and not inflater.complete:
        raise Malformed("the gzip body is truncated or empty", code="bad_gzip")
    return b"".join(chunks)


class _Gunzip:
    """Inflates a gzip body as it streams in, member after member (RFC 1952 allows several),
    never holding more than the room it is given: a small bomb stops at the cap."""

    def __init__(self) -> None:
        self._member = zlib.decompressobj(wbits=31)

    @property
    def complete(self) -> bool:
        return self._member.eof

    def feed(self, data: bytes, room: int) -> Iterator[bytes]:
        try:
            while data and room > 0:
                # max_length bounds each step; what is left waits in unconsumed_tail
                piece = self._member.decompress(data, room)
                room -= len(piece)
                if piece:
                    yield piece
                if self._member.eof:
                    data = self._member.unused_data
                    if data:
                        self._member = zlib.decompressobj(wbits=31)
                else:
                    data = self._member.unconsumed_tail
        except zlib.error as exc:
            raise Malformed(f"the gzip body is corrupt: {exc}", code="bad_gzip") from exc


YAML_TYPES = ("application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml")


def is_msgpack(request: Request[Any, Any, Any], *, yaml: bool = False) -> bool:
    """Whether the body is MessagePack (else JSON, or YAML where `yaml`); 415 for any other
    Content-Type, 400 for two of them."""
    sent = request.headers.getall("content-type", [])
    if len(sent) > 1:  # not a list header (RFC 9110 5.3): a proxy may take either, so neither is
        raise Malformed(
            "send one Content-Type header, not several",
            code="bad_request",
            errors=[FieldError("Content-Type", "duplicate", "given more than once")],
        )
    media = (sent[0] if sent else JSON).split(";")[0].strip().lower()
    if media in MSGPACK_TYPES:
        return True
    if media in (JSON, "") or media.endswith("+json"):
        return False
    if yaml and (media in YAML_TYPES or media.endswith("+yaml")):
        return False
    also = ", application/yaml" if yaml else ""
    said = f"Content-Type {media!r}: send application/json{also} or {MSGPACK}"
    raise UnsupportedMedia(said, errors=[FieldError("Content-Type", "choice", said)])


UTF8_BOM = b"\xef\xbb\xbf"


def without_bom(body: bytes, *, msgpack: bool) -> bytes:
    """A JSON body without the UTF-8 byte order mark it may start with, which RFC 8259 8.1
    lets a parser ignore: an outbox file the app saved gets one when an old Windows Notepad
    saves it again, and the push was refused `malformed_body` while `POST /forms` took it."""
    return body if msgpack else body.removeprefix(UTF8_BOM)


async def decode(request: Request[Any, Any, Any], type_: type[T], limit: int = MAX_BODY_BYTES) -> T:
    body = await read_body(request, limit)
    msgpack = is_msgpack(request)
    body = without_bom(body, msgpack=msgpack)
    if len(body) > 64 * 1024:  # a large body refused may be read again, more slowly: not here
        return await run_sync(lambda: parse(body, type_, msgpack=msgpack))
    return parse(body, type_, msgpack=msgpack)


def _whole_msgpack(body: bytes, cause: Exception) -> None:
    """400 `malformed_body` for a body that is not one MessagePack value."""
    try:
        msgspec.msgpack.decode(body)
    except (msgspec.DecodeError, RecursionError, UnicodeDecodeError) as exc:
        hint = (
            "; the body looks like JSON: send Content-Type: application/json"
            if body[:1] in (b"{", b"[")
            else ""
        )
        raise Malformed(
            f"the body is not valid MessagePack: {exc}{hint}", code="malformed_body"
        ) from cause


def parse(body: bytes, type_: type[T], *, msgpack: bool) -> T:
    """`body` decoded as `type_`: 422 with a path for a wrong shape, 400 for a body that is not
    JSON (or MessagePack) at all."""
    try:
        if msgpack:
            return msgspec.msgpack.decode(body, type=type_)
        return msgspec.json.decode(body, type=type_)
    except msgspec.ValidationError as exc:
        message, where = msgspec_where(exc)
        if msgpack and not where:
            # a wrong type at the top may be no MessagePack at all: JSON's `{` reads as the
            # number 123 and the type is checked before the rest is found to be left over
            _whole_msgpack(body, exc)
        path = msgspec_path(_named(body, where.lstrip("."), msgpack), message)
        code = msgspec_code(message)
        if msgpack and not path and body[:1] in (b"{", b"["):
            message += "; the body looks like JSON: send Content-Type: application/json"
        first = FieldError(path, code, message)
        every = shape_errors(type_, body, msgpack=msgpack, prefix="", first=first)  # type: ignore[arg-type]
        # a bound in plain words, in both languages, at its path ("note: at most 4000
        # characters"): it was msgspec's "Expected `str` of length <= 4000"
        plain, vi = msgspec_en(message), msgspec_vi(message)
        at = f"{path}: " if path else ""
        raise Invalid(
            f"{at}{plain}" if plain else message,
            errors=every,
            vi=f"{at}{vi}" if vi else None,
        ) from exc
    except (msgspec.DecodeError, RecursionError, UnicodeDecodeError) as exc:
        # msgspec raises RecursionError for nesting deeper than the interpreter's limit, and
        # UnicodeDecodeError for a MessagePack str that is not UTF-8
        found = None if msgpack else lone_surrogate_in(body)
        if found is not None:
            spot = found[1].removeprefix(".")
            raise Malformed(
                f"the body is not Unicode text: half of a UTF-16 surrogate pair (an emoji cut "
                f"in two) at {spot or 'its top'}",
                code="malformed_body",
                errors=[FieldError(spot, "malformed", LONE_SURROGATE)],
            ) from exc
        kind = "MessagePack" if msgpack else "JSON"
        raise Malformed(f"the body is not valid {kind}: {exc}", code="malformed_body") from exc


def _named(body: bytes, path: str, msgpack: bool) -> str:
    """`path` with the key msgspec leaves out of an error in a top-level object's field
    (`values[...]` -> `values.so_buoi`): the first of its keys whose value does not decode."""
    head, found, tail = path.partition("[...]")
    if not found or "." in head or "[" in head:
        return path
    codec: Any = msgspec.msgpack if msgpack else msgspec.json
    try:
        field = codec.decode(body, type=dict[str, msgspec.Raw])[head]
        raws = codec.decode(field, type=dict[str, msgspec.Raw])
    except (msgspec.DecodeError, KeyError, UnicodeDecodeError, RecursionError):
        return path
    for key, raw in raws.items():
        try:
            codec.decode(raw)
        except (msgspec.DecodeError, UnicodeDecodeError, RecursionError):
            return f"{head}.{key}{tail}"
    return path


class _Number(str):
    """A JSON number (or NaN/Infinity) kept as its text, written back unchanged."""


class _Pairs(list):  # type: ignore[type-arg]
    """A JSON object as its (key, value) pairs, duplicates and order kept."""


def _dump(value: Any) -> str:
    """JSON text of a value read by `split_json_batch`, as it was sent: strings escaped to
    ASCII (so a lone surrogate is written back as the same escape), numbers as sent."""
    if isinstance(value, _Number):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, _Pairs):
        return "{" + ",".join(f"{json.dumps(k)}:{_dump(v)}" for k, v in value) + "}"
    if isinstance(value, list):
        return "[" + ",".join(_dump(v) for v in value) + "]"
    return json.dumps(value)  # true, false, null


def split_json_batch(body: bytes, type_: type[T]) -> T | None:
    """A JSON batch that msgspec refuses as a whole, split into its items by the standard
    library's parser, which lets a lone UTF-16 surrogate escape ("\\ud83d", what JavaScript
    writes for text cut inside an emoji) through: each item is then decoded, and refused, on
    its own, so one bad item costs nothing else. None when that parser refuses it too, or the
    envelope itself is at fault.

    Only for a body holding what msgspec refuses and the standard parser reads (a surrogate
    escape, NaN, Infinity), and one at a time: reading 10 MiB of numbers as Python objects
    takes some hundreds of MB, which several at once would multiply."""
    if not worth_rereading(body, surrogate=True, constant=True):
        return None
    with one_at_a_time():
        return _split_json_batch(body, type_)


_ONE_AT_A_TIME = threading.Lock()
SPLIT_WAIT_SECONDS = 5.0


@contextlib.contextmanager
def one_at_a_time() -> Iterator[None]:
    """The turn of a body read again, item by item, in Python (seconds of CPU and hundreds of
    MB for 10 MiB): one at a time. Waiting for it holds a worker thread, which every other
    request's reading and writing needs too: many such bodies at once had taken them all, for
    as long as they came. Past SPLIT_WAIT_SECONDS, 503 `busy`: nothing was stored, the phone
    sends it again."""
    if not _ONE_AT_A_TIME.acquire(timeout=SPLIT_WAIT_SECONDS):
        raise ApiError(
            "the server is reading another body of this kind; nothing was stored: send again later",
            code="busy",
            status=503,
            vi="Máy chủ đang đọc một gói khác như thế, chưa lưu gì: hãy gửi lại sau",
        )
    try:
        yield
    finally:
        _ONE_AT_A_TIME.release()


def _split_json_batch(body: bytes, type_: type[T]) -> T | None:
    try:
        doc = json.loads(
            body,
            object_pairs_hook=_Pairs,
            parse_float=_Number,
            parse_int=_Number,
            parse_constant=_Number,
        )
    except (ValueError, RecursionError):
        return None
    if not isinstance(doc, _Pairs):
        return None
    items = [v for k, v in doc if k == "submissions"]
    envelope = _Pairs((k, v) for k, v in doc if k != "submissions")
    if len(items) != 1 or not isinstance(items[0], list) or isinstance(items[0], _Pairs):
        return None
    try:
        head = msgspec.json.decode(
            _dump(_Pairs([*envelope, ("submissions", [])])).encode(), type=type_
        )
    except (msgspec.DecodeError, RecursionError):
        return None
    head.submissions = [msgspec.Raw(_dump(item).encode()) for item in items[0]]  # type: ignore[attr-defined]
    return head


def header_list(request: Request[Any, Any, Any], name: str) -> str:
    """A request header sent on several lines, as the one list they make (RFC 9110 5.3):
    `Accept: a` and `Accept: b` are `Accept: a, b`. "" when it is not sent."""
    return ", ".join(request.headers.getall(name, []))


def msgpack_asked(request: Request[Any, Any, Any]) -> str | None:
    """The MessagePack type to answer with when `Accept` prefers MessagePack to JSON (RFC 9110
    12.5.1), else None: one of its spellings named with a q above 0 and at least JSON's
    (JSON's through `*/*` or `application/*` too), the one with the best q (a tie goes to the
    registered one). A tie with JSON goes to MessagePack, named on purpose;
    `application/msgpack;q=0` means "not that"."""
    header = header_list(request, "accept")
    if "msgpack" not in header.lower():
        return None
    q = qualities(header)
    json_q = max(q.get(JSON, 0.0), q.get("application/*", 0.0), q.get("*/*", 0.0))
    best = max(MSGPACK_TYPES, key=lambda media: q.get(media, 0.0))
    return best if q.get(best, 0.0) > 0 and q[best] >= json_q else None


def wants_msgpack(request: Request[Any, Any, Any]) -> bool:
    """Whether the answer goes as MessagePack (`msgpack_asked`)."""
    return msgpack_asked(request) is not None


def respond(
    request: Request[Any, Any, Any],
    payload: Any,
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> Response[Any]:
    """Encode `payload` as MessagePack when the client asks for it, else JSON (`Vary: Accept`,
    so a cache never hands one to a client that asked for the other)."""
    headers = {"Vary": "Accept", **(headers or {})}
    media = msgpack_asked(request)
    if media is not None:
        body = msgspec.msgpack.encode(msgspec.json.decode(msgspec.json.encode(payload)))
        return Response(body, status_code=status, media_type=media, headers=headers)
    return Response(
        msgspec.json.encode(payload), status_code=status, media_type=JSON, headers=headers
    )
