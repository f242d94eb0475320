"""Submission data validation, compiled once per form version into closures.

`compile_form(form)` walks the definition once and returns a `Validator`; checking an item
is then a dict lookup and a closure call per field, no re-interpretation of the definition.
Every problem in an item is reported (not only the first), each with a path, a code and a
message; text comes back normalised to NFC. Pure: no HTTP, no SQL.
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

from server import patterns
from server.forms import Field, FormDef
from server.pattern_syntax import PatternError
from server.protocol import FieldError

# A check takes (value, path, errors) and returns the value to keep (normalised).
Check = Callable[[Any, str, list[FieldError]], Any]

# ASCII digits only: Python's \d takes other scripts' digits too (a fullwidth 2023), which
# int() and fromisoformat() then read, where the phone's \d does not. An offset's minutes are
# 00-59, as RFC 3339 has them: fromisoformat would read +07:60 as +08:00
_TIME = r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?"
RFC3339_RE = re.compile(_TIME + r"([Zz]|[+-][0-9]{2}:[0-5][0-9])\Z")
# what an older coso took too (offset minutes to 99): a stored time is still read as it was
_STORED_TIME_RE = re.compile(_TIME + r"([Zz]|[+-][0-9]{2}:[0-9]{2})\Z")
DATE_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}\Z")
# What a required text may not be only made of: spaces (those of str.strip) and the invisible
# characters a paste brings (zero-width spaces and joiners, word joiner, BOM, soft hyphen).
# client_forms/validate.js has the same.
BLANK_RE = re.compile(r"[\s\u00ad\u200b-\u200d\u2060\ufeff]*")
# a key written as it is in a path: no `.`, bracket, quote, space or control makes it ambiguous
NAME_RE = re.compile(r'[^.\[\]"\\\s\x00-\x1f\x7f]+\Z')
MAX_TEXT = 100_000
MAX_ITEMS = 10_000
MAX_SAFE_INT = 2**53 - 1
GEO_KEYS = frozenset({"lat", "lon", "alt", "accuracy"})


def key_path(prefix: str, key: str) -> str:
    """The path of `key` in the object at `prefix`: `prefix.key`, or `prefix["a.b"]` for a key
    that is not a plain name (a dot, a bracket or nothing would make the path read as
    another)."""
    if NAME_RE.match(key):
        return f"{prefix}.{key}" if prefix else key
    return f"{prefix}[{json.dumps(key, ensure_ascii=False)}]"


def _nfc(s: str) -> str:
    return s if unicodedata.is_normalized("NFC", s) else unicodedata.normalize("NFC", s)


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, float) and not math.isfinite(value):
        return "a number that is not finite (NaN or infinity)"
    return {str: "string", int: "integer", float: "number", list: "array", dict: "object"}.get(
        type(value), type(value).__name__
    )


def _wrong_type(expected: str, value: Any, path: str, errors: list[FieldError]) -> None:
    errors.append(FieldError(path, "type", f"expected {expected}, got {_type_name(value)}"))


def _is_number(value: Any) -> bool:
    return (isinstance(value, int) and not isinstance(value, bool)) or (
        isinstance(value, float) and math.isfinite(value)
    )


def parse_rfc3339(value: str) -> datetime | None:
    """An RFC 3339 timestamp with offset, or None."""
    if not RFC3339_RE.match(value):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("z", "Z").replace("t", "T"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_SECOND = timedelta(seconds=1)


def rfc3339_ns(value: str, *, stored: bool = False) -> int | None:
    """An RFC 3339 time with offset as exact integer nanoseconds since the epoch (what orders
    `captured_at`), or None for anything else. A float of seconds cannot: it keeps no more
    than microseconds now, and less in the far future, where `datetime` drops digits past six.
    `stored`: a time already stored, which an older coso may have taken with offset minutes
    past 59."""
    match = (_STORED_TIME_RE if stored else RFC3339_RE).match(value)
    if match is None:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("z", "Z").replace("t", "T"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        return None
    seconds = (parsed.replace(microsecond=0) - _EPOCH) // _SECOND
    return seconds * 1_000_000_000 + int((match.group(1) or ".")[1:].ljust(9, "0"))


def instant_ns(value: str) -> int:
    """`rfc3339_ns` of a time already checked."""
    ns = rfc3339_ns(value, stored=True)
    if ns is None:
        raise ValueError(f"not an RFC 3339 time: {value!r}")
    return ns


def _bounds(f: Field, path: str, errors: list[FieldError], value: float, what: str) -> None:
    if f.min is not None and value < f.min:
        errors.append(
            FieldError(path, "min", f"Không được nhỏ hơn {f.min} / {what} must be at least {f.min}")
        )
    if f.max is not None and value > f.max:
        errors.append(
            FieldError(path, "max", f"Không được lớn hơn {f.max} / {what} must be at most {f.max}")
        )


def _text(f: Field) -> Check:
    limit = f.max_length or MAX_TEXT
    try:
        pattern = patterns.compile(f.pattern) if f.pattern else None
    except PatternError:
        # Published before patterns were read as JavaScript reads them, and refused now: the
        # phone's RegExp cannot compile most of these either, and then checks nothing.
        pattern = None

    def check(value: Any, path: str, errors: list[FieldError]) -> Any:
        if not isinstance(value, str):
            return _wrong_type("text", value, path, errors)
        value = _nfc(value)
        if "\x00" in value:  # no database text type or C string holds it (PostgreSQL neither)
            errors.append(FieldError(path, "control_character", "text may not contain U+0000"))
        if len(value) > limit:
            errors.append(
                FieldError(path, "max_length", f"Tối đa {limit} ký tự / at most {limit} characters")
            )
        if pattern is not None and value:
            try:
                if not pattern.search(value):
                    errors.append(FieldError(path, "pattern", f"does not match {f.pattern}"))
            except TimeoutError:
                errors.append(
                    FieldError(
                        path,
                        "pattern_timeout",
                        "mẫu kiểm tra chạy quá lâu với giá trị này / the pattern took too long"
                        f" to check this value ({f.pattern})",
                    )
                )
        return value

    return check


def _exact(value: Any, path: str, errors: list[FieldError]) -> bool:
    """A number is kept only within ±(2**53 - 1), however it is written (`9007199254740993`,
    `1e16`, `9007199254740993.0`): beyond that a phone's JavaScript, a spreadsheet or
    MessagePack would not hold a whole number exactly, and the same value must not pass or
    fail by its spelling."""
    if type(value) in (int, float) and not -MAX_SAFE_INT <= value <= MAX_SAFE_INT:
        errors.append(
            FieldError(
                path, "range", f"a number must be between {-MAX_SAFE_INT} and {MAX_SAFE_INT}"
            )
        )
        return False
    return True


def _whole(value: Any) -> Any:
    """A float with a whole value within ±(2**53 - 1) as that integer (`5.0`, `-0.0`, `1e3`):
    one spelling of one number, as text has one in NFC, so that a phone sending it back as
    a MessagePack double, or a client writing `5.0`, is the same content (a duplicate, not
    `id_reused`) and an integer field takes it."""
    if type(value) is float and value.is_integer() and -MAX_SAFE_INT <= value <= MAX_SAFE_INT:
        return int(value)
    return value


def _integer(f: Field) -> Check:
    def check(value: Any, path: str, errors: list[FieldError]) -> Any:
        value = _whole(value)
        if _is_number(value) and not _exact(value, path, errors):
            return value
        if not isinstance(value, int) or isinstance(value, bool):
            return _wrong_type("integer", value, path, errors)
        _bounds(f, path, errors, value, "value")
        return value

    return check


def _decimal(f: Field) -> Check:
    def check(value: Any, path: str, errors: list[FieldError]) -> Any:
        value = _whole(value)
        if not _is_number(value):
            return _wrong_type("number", value, path, errors)
        if _exact(value, path, errors):
            _bounds(f, path, errors, value, "value")
        return value

    return check


def _boolean(f: Field) -> Check:
    def check(value: Any, path: str, errors: list[FieldError]) -> Any:
        if not isinstance(value, bool):
            return _wrong_type("boolean", value, path, errors)
        return value

    return check


def _date(f: Field) -> Check:
    def check(value: Any, path: str, errors: list[FieldError]) -> Any:
        if not isinstance(value, str):
            return _wrong_type("date (YYYY-MM-DD)", value, path, errors)
        if not DATE_RE.match(value):
            errors.append(FieldError(path, "format", "expected a date YYYY-MM-DD"))
            return value
        try:
            date.fromisoformat(value)
        except ValueError:
            errors.append(FieldError(path, "format", f"{value} is not a day of the calendar"))
        return value

    return check


def _datetime(f: Field) -> Check:
    def check(value: Any, path: str, errors: list[FieldError]) -> Any:
        if not isinstance(value, str):
            return _wrong_type("datetime (RFC 3339)", value, path, errors)
        if parse_rfc3339(value) is None:
            errors.append(FieldError(path, "format", "expected an RFC 3339 time with offset"))
        return value

    return check


def _select_one(f: Field) -> Check:
    values = frozenset(c.value for c in f.choices or [])

    def check(value: Any, path: str, errors: list[FieldError]) -> Any:
        if not isinstance(value, str):
            return _wrong_type("a choice value (string)", value, path, errors)
        value = _nfc(value)  # choice values are ASCII; a wrong one still comes back in NFC
        if value not in values:
            errors.append(FieldError(path, "choice", _not_a_choice(value)))
        return value

    return check


def _not_a_choice(value: str) -> str:
    """A `choice` error's message, naming the value in both languages (the app's wording)."""
    return f"{value!r} không có trong các lựa chọn / {value!r} is not one of the choices"


def _items(n: float) -> str:
    return f"{n} item" if n == 1 else f"{n} items"


def _count(f: Field, path: str, errors: list[FieldError], n: int) -> None:
    # none at all is no answer, as the phone takes it: `required` for a required field (the
    # object's check), nothing for an optional one, whose `min` bounds an answer given
    if n and f.min is not None and n < f.min:
        errors.append(
            FieldError(path, "min_items", f"Cần ít nhất {f.min} mục / at least {_items(f.min)}")
        )
    if f.max is not None and n > f.max:
        errors.append(
            FieldError(path, "max_items", f"Tối đa {f.max} mục / at most {_items(f.max)}")
        )


def _select_multiple(f: Field) -> Check:
    values = frozenset(c.value for c in f.choices or [])
    rank = {c.value: i for i, c in enumerate(f.choices or [])}.__getitem__

    def check(value: Any, path: str, errors: list[FieldError]) -> Any:
        if not isinstance(value, list):
            return _wrong_type("a list of choice values", value, path, errors)
        seen: set[str] = set()
        out = []
        for i, v in enumerate(value):
            here = f"{path}[{i}]"
            if isinstance(v, str):
                v = _nfc(v)
            out.append(v)
            if not isinstance(v, str):
                _wrong_type("a choice value (string)", v, here, errors)
            elif v not in values:
                errors.append(FieldError(here, "choice", _not_a_choice(v)))
            elif v in seen:
                errors.append(FieldError(here, "duplicate", f"{v!r} is selected twice"))
            else:
                seen.add(v)
        _count(f, path, errors, len(value))
        if len(seen) == len(out):  # a set of choices: kept in the form's order, so that two
            out.sort(key=rank)  # phones ticking the same boxes in turn never conflict
        return out

    return check


def _geopoint(f: Field) -> Check:
    limits = {"lat": (-90, 90), "lon": (-180, 180), "alt": (-20_000, 100_000), "accuracy": (0, 1e7)}

    def check(value: Any, path: str, errors: list[FieldError]) -> Any:
        if not isinstance(value, dict):
            return _wrong_type('a geopoint {"lat", "lon"}', value, path, errors)
        value = {k: _whole(v) for k, v in value.items()}
        for key in ("lat", "lon"):
            if key not in value:
                errors.append(FieldError(f"{path}.{key}", "required", f"a geopoint needs {key}"))
        unknown = False
        if value.get("alt", 0) is None or value.get("accuracy", 0) is None:
            value = {k: v for k, v in value.items() if v is not None or k in ("lat", "lon")}
        for key, v in value.items():  # optional alt and accuracy: null is no value
            if key not in GEO_KEYS:
                unknown = True
                key = _nfc(key) if isinstance(key, str) else key
                where = key_path(path, key) if isinstance(key, str) else f"{path}.{key}"
                errors.append(FieldError(where, "unknown_field", f"{key!r} is not in a geopoint"))
                continue
            here = f"{path}.{key}"
            if not _is_number(v):
                _wrong_type("number", v, here, errors)
            elif not limits[key][0] <= v <= limits[key][1]:
                low, high = limits[key]
                errors.append(FieldError(here, "range", f"{key} must be between {low} and {high}"))
        if unknown:
            return {(_nfc(k) if isinstance(k, str) else k): v for k, v in value.items()}
        return dict(sorted(value.items()))  # as stored (keys sorted), for merging in hand

    return check


def _repeat(f: Field) -> Check:
    inner = _object_check(f.fields or [])

    def check(value: Any, path: str, errors: list[FieldError]) -> Any:
        if not isinstance(value, list):
            return _wrong_type("a list of groups", value, path, errors)
        _count(f, path, errors, len(value))
        if len(value) > MAX_ITEMS:
            errors.append(
                FieldError(path, "max_items", f"Tối đa {MAX_ITEMS} mục / at most {MAX_ITEMS} items")
            )
            return value
        out = [inner(item, f"{path}[{i}]", errors, True) for i, item in enumerate(value)]
        # in a group, a null sub-field is no value, as a missing one: one spelling, so that
        # the same entries never differ (a spurious conflict) by how a client wrote nothing;
        # keys sorted as stored, so that data merged in hand is the data read back
        return [
            {k: v for k, v in sorted(item.items()) if v is not None} if type(item) is dict else item
            for item in out
        ]

    return check


COMPILERS: dict[str, Callable[[Field], Check]] = {
    "text": _text,
    "integer": _integer,
    "decimal": _decimal,
    "boolean": _boolean,
    "date": _date,
    "datetime": _datetime,
    "select_one": _select_one,
    "select_multiple": _select_multiple,
    "geopoint": _geopoint,
    "repeat": _repeat,
}

ObjectCheck = Callable[[Any, str, list[FieldError], bool], Any]


def _object_check(fields: list[Field]) -> ObjectCheck:
    checks = {f.name: COMPILERS[f.type](f) for f in fields}
    required = tuple(f.name for f in fields if f.required)
    # the names of one removed field (evolution.with_retired: the first lists the others, each
    # a field of its own here): data under two of them would be one value lost in the merge
    aliases = [
        (f.name, *f.previous_names)
        for f in fields
        if f.previous_names and all(n in checks for n in f.previous_names)
    ]

    def check(value: Any, path: str, errors: list[FieldError], whole: bool) -> Any:
        if not isinstance(value, dict):
            return _wrong_type("an object", value, path, errors)
        prefix = f"{path}." if path else ""
        out: dict[str, Any] = {}
        for key, v in value.items():
            field_check = checks.get(key)
            if field_check is None:
                # MessagePack maps may have keys that are not strings: report, never crash
                name = _nfc(key) if isinstance(key, str) else str(key)
                errors.append(
                    FieldError(
                        key_path(path, name) if isinstance(key, str) else prefix + name,
                        "unknown_field",
                        f"no field {name!r} in this form",
                    )
                )
            elif v is None:
                out[key] = None
            else:
                out[key] = field_check(v, prefix + key, errors)
        for name in required:
            v = value.get(name, ...)
            # "" or only spaces and invisible characters: nothing was written
            blank = type(v) is str and BLANK_RE.fullmatch(v) is not None
            if v is None or blank or v == [] or (v is ... and whole):
                here = prefix + name
                if blank or v == []:  # not also "'' is not one of the choices"
                    errors[:] = [e for e in errors if e.path != here]
                errors.append(FieldError(here, "required", "this field is required"))
        for names in aliases:
            given = [n for n in names if n in value]
            for name in given[1:]:
                message = (
                    f"{given[0]!r} và {name!r} là tên cũ và mới của một trường: chỉ gửi một "
                    f"tên / {given[0]!r} and {name!r} name one field: send one of them"
                )
                errors.append(FieldError(prefix + name, "duplicate", message))
        return out

    return check


class Validator:
    """The compiled check of one form version's `data`."""

    __slots__ = ("_check", "form_id", "version")

    def __init__(self, form: FormDef, version: int) -> None:
        self.form_id = form.form_id
        self.version = version
        self._check = _object_check(form.fields)

    def __call__(
        self, data: Any, *, creating: bool, path: str = ""
    ) -> tuple[dict[str, Any], list[FieldError]]:
        """(normalised data, errors). `creating`: required fields must be present, not only
        non-null (an edit may leave a field out, which keeps its value)."""
        errors: list[FieldError] = []
        out = self._check(data, path, errors, creating)
        return out, errors


def compile_form(form: FormDef, version: int) -> Validator:
    return Validator(form, version)
