"""Our domain errors: each carries its HTTP status and the RFC 9457 fields it maps to.

Conflicts between field values are data, not errors; these are for requests that are
malformed, not allowed, or stale. `app.py` turns every exception into problem+json.
"""

from __future__ import annotations

import errno
import itertools
import os
import re
import sqlite3
from pathlib import Path
from typing import Any

import msgspec

from server.protocol import FieldError, Problem
from server.validate import key_path

TITLES = {
    400: "Yêu cầu sai định dạng / Malformed request",
    401: "Chưa xác thực / Not authenticated",
    403: "Không có quyền / Forbidden",
    404: "Không tìm thấy / Not found",
    405: "Phương thức không được hỗ trợ / Method not allowed",
    408: "Hết thời gian chờ / Request timeout",
    409: "Xung đột trạng thái / Conflict with the current state",
    413: "Dữ liệu quá lớn / Request body too large",
    415: "Kiểu dữ liệu không hỗ trợ / Unsupported media type",
    422: "Dữ liệu không hợp lệ / Invalid content",
    429: "Quá nhiều yêu cầu / Too many requests",
    499: "Máy khách đã ngắt kết nối / Client closed request",
    500: "Lỗi máy chủ / Internal server error",
    503: "Máy chủ tạm thời không phục vụ được / Service unavailable",
}

# What each problem `code` means, in Vietnamese: the `detail` of every problem+json starts
# with it, then " / " and the English detail (which names the specifics).
DETAILS_VI = {
    "bad_request": "Yêu cầu không hợp lệ",
    "malformed": "Dữ liệu gửi lên sai định dạng",
    "malformed_body": "Nội dung gửi lên không đọc được (không phải JSON/YAML/MessagePack hợp lệ)",
    "bad_gzip": "Dữ liệu nén gzip bị hỏng hoặc thiếu",
    "bad_cursor": "Con trỏ đồng bộ không hợp lệ",
    "bad_format": "Định dạng xuất không được hỗ trợ",
    "bad_area": "Mã địa bàn không hợp lệ",
    "bad_parameter": "Tham số không hợp lệ",
    "unauthorized": "Chưa xác thực",
    "missing_token": "Thiếu mã truy cập (token)",
    "bad_token": "Mã truy cập không hợp lệ",
    "account_disabled": "Tài khoản đã bị khóa",
    "forbidden": "Không có quyền với địa bàn hoặc thao tác này",
    "not_found": "Không tìm thấy",
    "unknown_form": "Không có biểu mẫu hoặc phiên bản này",
    "unknown_record": "Không có hồ sơ này",
    "method_not_allowed": "Phương thức không được hỗ trợ",
    "timeout": "Gửi dữ liệu quá lâu",
    "stale": "Dữ liệu đã thay đổi",
    "stale_heads": "Các bản đầu (heads) gửi lên không phải của hồ sơ lúc này (hồ sơ đã có "
    "thay đổi mới, hoặc danh sách sai): hãy tải lại hồ sơ rồi xử lý",
    "reset_required": "Cần đồng bộ lại từ đầu",
    "too_large": "Dữ liệu quá lớn",
    "body_too_large": "Nội dung gửi lên quá lớn",
    "too_many_items": "Quá nhiều mục trong một lần gửi",
    "unsupported_media_type": "Kiểu nội dung không được hỗ trợ",
    "unsupported_encoding": "Kiểu nén không được hỗ trợ (chỉ gzip)",
    "invalid": "Dữ liệu không hợp lệ",
    "invalid_definition": "Định nghĩa biểu mẫu có lỗi",
    "rate_limited": "Quá nhiều lần thử sai, hãy đợi",
    "client_closed": "Máy khách đã ngắt kết nối",
    "internal": "Lỗi máy chủ",
    "busy": "Máy chủ đang bận ghi dữ liệu khác, chưa lưu gì: hãy gửi lại sau",
    "disk_full": "Ổ đĩa máy chủ đã đầy, chưa lưu gì: hãy gửi lại sau",
    "database_gone": "Máy chủ mất tệp cơ sở dữ liệu, chưa lưu gì: hãy gửi lại sau",
    "http_error": "Lỗi yêu cầu",
}

# The same for the `code` of each entry of `errors` (its `message` gives the specifics).
FIELD_ERRORS_VI = {
    "required": "Bắt buộc",
    "type": "Sai kiểu giá trị",
    "format": "Sai định dạng",
    "pattern": "Không đúng định dạng",
    "min": "Nhỏ hơn mức tối thiểu",
    "max": "Lớn hơn mức tối đa",
    "range": "Ngoài phạm vi cho phép",
    "max_length": "Quá dài",
    "min_items": "Quá ít mục",
    "max_items": "Quá nhiều mục",
    "too_many_errors": "Còn nhiều lỗi khác",
    "choice": "Không có trong các lựa chọn",
    "duplicate": "Bị trùng",
    "duplicate_key": "Một khóa xuất hiện hai lần",
    "unknown_field": "Trường không có trong biểu mẫu",
    "unknown_parameter": "Đường dẫn này không có tham số này",
    "unknown_form": "Không có biểu mẫu này",
    "unknown_version": "Không có phiên bản này",
    "control_character": "Có ký tự điều khiển không hợp lệ",
    "malformed": "Dữ liệu không đọc được",
    "invalid": "Không hợp lệ",
    "not_allowed": "Không được phép ở đây",
    "syntax": "Sai cú pháp YAML/JSON",
    "id_reused": "Mã này đã dùng cho nội dung khác",
    "forbidden": "Ngoài địa bàn của bạn",
    "other_record": "Thuộc hồ sơ khác",
    "cycle": "Các bản cha tạo thành vòng lặp (một bản là cha của chính nó)",
    "too_many_pending": "Quá nhiều bản của hồ sơ này đang chờ bản cha",
    "record_full": "Hồ sơ này đã có số bản ghi tối đa: hãy báo cán bộ giám sát",
    "form_mismatch": "Hồ sơ thuộc biểu mẫu khác",
    "type_changed": "Một trường không được đổi kiểu giữa các phiên bản",
    "reserved": "Tên này dành riêng, hãy đặt tên khác",
    "rename_collision": "Đổi tên làm hai trường của một phiên bản cũ trùng vào một tên",
    "name_reused": "Tên này đã được đổi sang trường khác ở phiên bản trước",
    "too_deep": "Lồng nhau quá sâu",
    "too_large": "Quá lớn",
    "bad_cursor": "Con trỏ đồng bộ không hợp lệ",
    "stale_heads": "Không phải các bản đầu của hồ sơ lúc này",
}


# The errors an answer lists (a push item's, a 422's), then one `too_many_errors` saying how
# many more: 850 unknown keys an item made a push of 80 KB a 117 MB answer, and 40,000 in a
# resolution's values one of 5 MB.
MAX_ERRORS = 50


def bilingual_errors(errors: list[FieldError] | None) -> list[FieldError] | None:
    """Each error's message with the Vietnamese in front: a message made in both languages
    (naming the limit or the value, as validate.py's) is kept; msgspec's bounds get theirs
    (`msgspec_vi`); any other gets the Vietnamese for its code. Past MAX_ERRORS + 1, the first
    MAX_ERRORS and how many more (at the path of the first one left out)."""
    if not errors:
        return errors
    if len(errors) > MAX_ERRORS + 1:
        errors = [
            *errors[:MAX_ERRORS],
            _too_many(errors[MAX_ERRORS].path, len(errors) - MAX_ERRORS),
        ]
    bounds = ("min", "max", "max_length", "min_items", "max_items")
    errors = [_unknown_key(e) for e in errors]
    return [
        FieldError(
            e.path,
            e.code,
            f"{(e.code in bounds and msgspec_vi(e.message)) or FIELD_ERRORS_VI[e.code]}"
            f" / {(e.code in bounds and msgspec_en(e.message)) or e.message}",
        )
        if e.code in FIELD_ERRORS_VI and " / " not in e.message
        else e
        for e in errors
    ]


def _unknown_key(e: FieldError) -> FieldError:
    """msgspec's "Object contains unknown field `x`" and "Object missing required field `x`"
    in both languages, as a key of the request (a definition's, a resolution's), which is not
    a field of a form."""
    key = msgspec_key(e.message)
    if e.code == "unknown_field" and e.message.startswith("Object contains unknown field"):
        return FieldError(
            e.path, e.code, f"Không có khóa `{key}` ở đây / no key `{key}` is known here"
        )
    if e.code == "required" and e.message.startswith("Object missing required field"):
        return FieldError(e.path, e.code, f"Thiếu khóa `{key}` / {e.message}")
    return e


def bilingual(code: str, detail: str, vi: str | None = None) -> str:
    """`detail` with the Vietnamese in front: "Vietnamese / English". `vi` is the Vietnamese
    of this very detail, with its specifics; without it, the Vietnamese for its `code`."""
    vi = vi or DETAILS_VI.get(code)
    return f"{vi} / {detail}" if vi else detail


class ApiError(Exception):
    status = 400
    code = "bad_request"

    def __init__(
        self,
        detail: str,
        *,
        errors: list[FieldError] | None = None,
        code: str | None = None,
        status: int | None = None,
        vi: str | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.vi = vi  # the Vietnamese of `detail`, naming what it names (else the code's)
        self.errors = errors
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status


class Malformed(ApiError):
    status, code = 400, "malformed"


class Unauthorized(ApiError):
    status, code = 401, "unauthorized"


class Forbidden(ApiError):
    status, code = 403, "forbidden"


class NotFound(ApiError):
    status, code = 404, "not_found"


class Stale(ApiError):
    status, code = 409, "stale"


class TooLarge(ApiError):
    status, code = 413, "too_large"


class UnsupportedMedia(ApiError):
    status, code = 415, "unsupported_media_type"


class Invalid(ApiError):
    status, code = 422, "invalid"


ROLES_VI = {"officer": "cán bộ", "supervisor": "giám sát", "admin": "quản trị"}


def msgspec_where(exc: Exception) -> tuple[str, str]:
    """(message, where) of a msgspec error: `where` is the path after its `$` (".data.x",
    "" for the top), and a key of the wrong type names the object that holds it."""
    text = str(exc)
    if " - at `key` in `$" in text:
        message, _, where = text.partition(" - at `key` in `$")
        return f"a key: {message}", where.rstrip("`")
    message, _, where = text.partition(" - at `$")
    return message, where.rstrip("`")


_EXPECTED = re.compile(r"Expected `(\w+)`(?: of length)? ?(>=|>|<=|<) ?(-?[\d.]+)")


def msgspec_code(message: str) -> str:
    """The `errors[].code` (README, Error codes) of a msgspec ValidationError's message, for
    every place that reports one: a body's shape (api/body.py), a pushed item (item.py) and a
    query parameter (app.py). "Expected `str`, got `int`" is `type`; a bound is `min`, `max`,
    `min_items`, `max_items` or `max_length`, and a text that must not be empty, `required`."""
    if "missing required field" in message:
        return "required"
    if "unknown field" in message:
        return "unknown_field"
    if "out of range" in message:  # past what a number holds (1e400, 5,000 digits)
        return "range"
    if "Invalid enum value" in message:
        return "choice"
    bound = _EXPECTED.search(message)
    if bound is not None:
        kind, op, n = bound.groups()
        if " of length " not in message:
            return "min" if op.startswith(">") else "max"
        if op.startswith("<"):
            return "max_length" if kind == "str" else "max_items"
        if kind != "str":
            return "min_items"
        return "required" if n == "1" else "invalid"
    if "matching regex" in message:
        return "pattern"
    if re.search(r"Expected `[^`]+`, got `", message):
        return "type"
    return "invalid"


def msgspec_path(path: str, message: str) -> str:
    """Where a msgspec ValidationError at `path` is: at the key its message names when that
    is a field missing or unknown (`missing required field `x``), else `path` itself."""
    named = "required field" in message or "unknown field" in message
    key = msgspec_key(message) if named else None
    return key_path(path, key) if key is not None else path


def msgspec_vi(message: str) -> str | None:
    """The Vietnamese of a bound msgspec names ("Expected `int` <= 1000"), with its number,
    in the app's words (client_forms/i18n.js); None for any other message."""
    words = _bound_words(message)
    return words and words[0]


def msgspec_en(message: str) -> str | None:
    """A bound msgspec names ("Expected `str` of length <= 200") in plain words ("at most 200
    characters"), as the Vietnamese says it; None for any other message."""
    words = _bound_words(message)
    return words and words[1]


def _bound_words(message: str) -> tuple[str, str] | None:
    """(Vietnamese, English) of the bound a msgspec message names, if it names one."""
    bound = _EXPECTED.search(message)
    if bound is None:
        return None
    kind, op, n = bound.groups()
    if " of length " in message:
        most = op.startswith("<")
        if kind == "str":
            vi = f"Tối đa {n} ký tự" if most else f"Ít nhất {n} ký tự"
            return vi, f"at most {n} characters" if most else f"at least {n} characters"
        vi = f"Tối đa {n} mục" if most else f"Cần ít nhất {n} mục"
        return vi, f"at most {n} items" if most else f"at least {n} items"
    return {
        ">=": (f"Không được nhỏ hơn {n}", f"must be at least {n}"),
        ">": (f"Phải lớn hơn {n}", f"must be greater than {n}"),
        "<=": (f"Không được lớn hơn {n}", f"must be at most {n}"),
        "<": (f"Phải nhỏ hơn {n}", f"must be less than {n}"),
    }[op]


def msgspec_key(message: str) -> str | None:
    """The key a msgspec message names (`unknown field `a`b``, `missing required field `x``):
    between its first and last backtick, for the key may hold one itself."""
    if message.count("`") < 2:
        return None
    return message[message.index("`") + 1 : message.rindex("`")]


def problem_json(
    status: int,
    code: str,
    detail: str,
    errors: list[FieldError] | None = None,
    vi: str | None = None,
) -> bytes:
    """An RFC 9457 problem+json body: `detail` in Vietnamese (`vi`, or the code's) and
    English, `errors` too."""
    return msgspec.json.encode(
        Problem(
            type=f"urn:coso:problem:{code}",
            title=TITLES.get(status, "Error"),
            status=status,
            detail=bilingual(code, detail, vi),
            code=code,
            errors=bilingual_errors(errors),
        )
    )


_KINDS = {int: "int", float: "float", bool: "bool", bytes: "bytes", type(None): "null"}

# Past this size a body or an item refused for its shape names the first error only.
SHAPE_BYTES = 256 * 1024


def shape_errors(
    type_: type[msgspec.Struct], raw: bytes, *, msgpack: bool, prefix: str, first: FieldError
) -> list[FieldError]:
    """Every error of `raw` (one JSON or MessagePack value) as `type_`, where `first` is the
    one msgspec stopped at: `first` alone when `raw` is not an object, is over SHAPE_BYTES
    (decoded whole, 700,000 unknown keys of an 8 MB push cost 2 s and 250 MB each), or holds
    an error with no path of its own (a key that is not text inside a field's object, which
    msgspec names `[...]`)."""
    if len(raw) > SHAPE_BYTES:
        return [first]
    try:
        obj = (msgspec.msgpack if msgpack else msgspec.json).decode(raw)
    except (msgspec.DecodeError, RecursionError, UnicodeDecodeError):
        return [first]
    found = _shape_errors(type_, obj, prefix)
    if not found or any("[...]" in e.path for e in found):
        return [first]
    return found


def _shape_errors(type_: type[msgspec.Struct], obj: Any, prefix: str) -> list[FieldError]:
    """Every key of `obj` (a JSON or MessagePack object, decoded as it is) that does not fit
    `type_`, each at its path: a field missing, of the wrong type or out of its bounds, and a
    key `type_` does not have. msgspec stops at the first; another client's developer fixed one
    mistake a round trip. Empty when `obj` is not an object (the caller's one error stands).
    A `msgspec.Raw` field (the items of a batch, read each on its own) is checked only as the
    list that holds them."""
    if not isinstance(obj, dict):
        return []
    config = type_.__struct_config__
    # a key that is not text (MessagePack's), at the object that holds it, as msgspec says it
    keys = (
        FieldError(
            prefix, "type", f"a key: Expected `str`, got `{_KINDS.get(type(key), 'a value')}`"
        )
        for key in obj
        if not isinstance(key, str)
    )
    errors: list[FieldError] = []
    known = set()
    for field in msgspec.structs.fields(type_):
        name = field.encode_name
        known.add(name)
        path = key_path(prefix, name)
        if name not in obj:
            if field.required:
                errors.append(
                    FieldError(path, "required", f"Object missing required field `{name}`")
                )
            continue
        kind = list[Any] if field.type == list[msgspec.Raw] else field.type
        try:
            msgspec.convert(obj[name], kind, strict=True)
        except msgspec.ValidationError as exc:
            message, where = msgspec_where(exc)
            errors.append(
                FieldError(msgspec_path(path + where, message), msgspec_code(message), message)
            )
    unknown = (
        FieldError(key_path(prefix, key), "unknown_field", f"Object contains unknown field `{key}`")
        for key in (obj if config.forbid_unknown_fields else ())
        if isinstance(key, str) and key not in known
    )
    # only what an answer lists is made (bilingual_errors' cut, counted, not built: 700,000
    # unknown keys made as many errors before the cut)
    found = itertools.chain(keys, errors, unknown)
    kept = list(itertools.islice(found, MAX_ERRORS + 1))
    more = sum(1 for _ in found)
    if more:
        kept[MAX_ERRORS:] = [_too_many(kept[MAX_ERRORS].path, more + 1)]
    return kept


def _too_many(path: str, more: int) -> FieldError:
    return FieldError(
        path, "too_many_errors", f"Còn {more} lỗi khác, từ đây / {more} more errors, from here on"
    )


def unknown_form(form_id: str) -> NotFound:
    """404 for a form never published, named at `form_id` (a path or query parameter)."""
    said = f"no form {form_id!r}"
    return NotFound(
        said,
        code="unknown_form",
        vi=f"Không có biểu mẫu {form_id!r}",
        errors=[FieldError("form_id", "unknown_form", said)],
    )


def no_room(folder: str | Path) -> bool:
    """Whether the disk of `folder` has less room than SQLite needs to open a database there
    (its `-shm`), in bytes or in files (inodes)."""
    try:
        st = os.statvfs(folder)
    except OSError:
        return False
    return st.f_bavail * st.f_frsize < 64 * 1024 or (st.f_files > 0 and st.f_favail == 0)


# the Retry-After of a 503: nothing was done, and the client asks again this much later
BUSY_RETRY_SECONDS = 30


def damaged(exc: BaseException) -> bool:
    """SQLite's word for a database file whose pages are not what it wrote (a failing disk, a
    copy cut short, bytes changed by another program): "malformed", "not a database", or text
    stored that is not UTF-8. Nothing a request can change; a backup put back can."""
    text = str(exc)
    return isinstance(exc, sqlite3.DatabaseError) and (
        "malformed" in text or "file is not a database" in text or "decode to UTF-8" in text
    )


def disk_full(exc: BaseException) -> bool:
    """SQLite's "database or disk is full": the disk of the database (or of its WAL) has no
    room left; the transaction was rolled back. Or no room for a file the server writes (an
    XLSX export is built in a temporary file before it is sent, a backup)."""
    if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
        return True
    return isinstance(exc, sqlite3.OperationalError) and "disk is full" in str(exc).lower()
