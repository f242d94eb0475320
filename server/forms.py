"""Form definitions: the structs, every rule checked at once, canonical hash.

Pure: no HTTP, no SQL. A definition that passes `parse_definition` is safe to publish as a
new version once `evolution.check_evolution` against the earlier versions finds nothing.
"""

from __future__ import annotations

import hashlib
import math
import re
import unicodedata
from collections.abc import Iterator
from typing import Any, Literal, Union, get_args, get_origin, get_type_hints

import msgspec
from msgspec import Struct

from server import patterns, redos
from server.form_source import MAX_REPEAT_DEPTH, YAML_TYPES, key_error, not_text, shape_error
from server.form_source import DefinitionError as DefinitionError  # for catalog.py's import
from server.form_source import read_source as read_source  # for catalog.py's import
from server.pattern_syntax import PatternError
from server.protocol import FieldError, Label

FieldType = Literal[
    "text",
    "integer",
    "decimal",
    "boolean",
    "date",
    "datetime",
    "select_one",
    "select_multiple",
    "geopoint",
    "repeat",
]
FIELD_TYPES: tuple[str, ...] = FieldType.__args__  # type: ignore[attr-defined]

FORM_ID_RE = re.compile(r"[a-z][a-z0-9_]{1,63}")
FIELD_NAME_RE = re.compile(r"[a-z][a-z0-9_]{0,63}")
CHOICE_VALUE_RE = re.compile(r"[A-Za-z0-9_.-]{1,100}")
FORM_ID_VI = (
    "form_id phải khớp [a-z][a-z0-9_]{1,63}: chữ thường không dấu, chữ số, dấu gạch dưới, "
    "bắt đầu bằng một chữ"
)
NAME_VI = (
    "Tên trường phải khớp [a-z][a-z0-9_]{0,63}: chữ thường không dấu, chữ số, dấu gạch dưới, "
    "bắt đầu bằng một chữ"
)
NAME_EN = "a field name must match [a-z][a-z0-9_]{0,63}"
CHOICE_VALUE_MESSAGE = (
    "Giá trị lựa chọn gồm 1 đến 100 chữ không dấu, chữ số và các dấu _ . - / "
    "a choice value must match [A-Za-z0-9_.-]{1,100}"
)
# Names every JavaScript object already has (Object.prototype's, of those a field name can
# spell): on the phone, a form's field or its data under such a name read as that function,
# which broke the form and saved "function Object() { [native code] }" as the value.
RESERVED_NAMES = frozenset({"constructor"})
MAX_FIELDS = 500
# the value a choice that did not convert stands in for, in a definition refused anyway
UNREAD = "\x00unread:"
# the keys a served version has beside its definition (api/forms.py), ignored when published
SERVED_KEYS = frozenset({"version", "sha256", "renames"})
# The bounds a phone's JavaScript holds exactly as whole numbers (validate.py limits
# submitted integers to the same).
MAX_BOUND = 2**53 - 1
# In a label or a user's name: C0 and C1 controls and DEL, the line and paragraph separators,
# the invisible direction marks, and the bidirectional overrides and isolates that make text
# show in another order than it is stored.
UNSHOWN = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
# Drawn as nothing though not a control, a format character or a space: the combining
# grapheme joiner, Hangul and Khmer fillers, Mongolian and other variation selectors.
INVISIBLE = re.compile(
    "[\u034f\u115f\u1160\u17b4\u17b5\u180b-\u180f\u3164\ufe00-\ufe0f\uffa0\U000e0100-\U000e01ef]"
)


def unseen(c: str) -> bool:
    """Whether character `c` hides, breaks or reorders text rather than being drawn: a
    control, a format character (a zero-width space, a bidirectional mark), a line or
    paragraph separator, or one of INVISIBLE."""
    return unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") or INVISIBLE.match(c) is not None


# Letters drawn as nothing: the Hangul fillers and the braille blank.
_BLANK_LETTERS = frozenset("\u115f\u1160\u3164\uffa0\u2800")


def shows_nothing(text: str) -> bool:
    """Text made only of spaces and invisible characters: those a required text may not be
    only made of (validate.BLANK_RE: zero-width spaces and joiners, word joiner, BOM, soft
    hyphen) and the like (every control and format character, private-use and unassigned
    code points, combining marks with nothing to sit on, INVISIBLE, the Hangul fillers, the
    braille blank). A label, a user's name and a device's id need more."""
    return all(unicodedata.category(c)[0] in "CMZ" or c in _BLANK_LETTERS for c in text)


class Choice(Struct, forbid_unknown_fields=True, omit_defaults=True):
    value: str
    label: Label


class Field(Struct, forbid_unknown_fields=True, omit_defaults=True):
    name: str
    type: FieldType
    label: Label
    hint: Label | None = None
    required: bool = False
    choices: list[Choice] | None = None
    min: int | float | None = None
    max: int | float | None = None
    max_length: int | None = None
    pattern: str | None = None
    fields: list[Field] | None = None
    previous_names: list[str] | None = None


class FormDef(Struct, forbid_unknown_fields=True, omit_defaults=True):
    form_id: str
    title: Label
    fields: list[Field]
    sync_to_devices: bool = False


def text_pattern(source: str, max_length: int | None = None) -> patterns.Pattern:
    """A text field's `pattern`, read as the phones' JavaScript reads it (`RegExp` with the `u`
    flag; server/patterns.py), refused (PatternError) if JavaScript or the server would read it
    otherwise, or if a backtracking engine can take exponential time on it (server/redos.py)."""
    return redos.check(source, max_length)


def nfc(value: Any) -> Any:
    """Every string in a JSON-like value, normalised to Unicode NFC."""
    if isinstance(value, str):
        return (
            value
            if unicodedata.is_normalized("NFC", value)
            else unicodedata.normalize("NFC", value)
        )
    if isinstance(value, list):
        return [nfc(v) for v in value]
    if isinstance(value, dict):
        return {nfc(k): nfc(v) for k, v in value.items()}
    return value


def parse_definition(source: Any) -> FormDef:
    """Plain data -> a checked FormDef, or DefinitionError listing every problem at once."""
    shape = shape_error(source) or key_error(source)
    if shape is not None:
        raise DefinitionError([shape])
    source = nfc(source)
    if not isinstance(source, dict):
        raise DefinitionError(
            [
                FieldError(
                    "",
                    "type",
                    "Định nghĩa biểu mẫu phải là một đối tượng / a form definition is an object",
                )
            ]
        )
    # what the server adds when it serves a version: a definition copied from
    # GET /forms/{form_id}/versions/{n} is published as it stands, with the next version
    source = {k: v for k, v in source.items() if k not in SERVED_KEYS}
    errors: list[FieldError] = []
    raw_fields = source.get("fields")
    shell = {**_known(source, FormDef, "", errors), "fields": []}
    try:
        form = msgspec.convert(shell, FormDef)
    except msgspec.ValidationError as exc:
        errors += _every_error(shell, FormDef, "", exc)
        form = None
    fields: list[Field] = []
    if raw_fields is not None and not isinstance(raw_fields, list):
        errors.append(
            FieldError(
                "fields", "type", "`fields` là một danh sách trường / fields is a list of fields"
            )
        )
    elif not raw_fields:
        errors.append(
            FieldError(
                "fields",
                "required",
                "Biểu mẫu cần ít nhất một trường / a form needs a non-empty list of fields",
            )
        )
    else:
        fields = _convert_fields(raw_fields, "fields", errors)
    if form is not None:
        form.fields = fields
        if not FORM_ID_RE.fullmatch(form.form_id):
            errors.append(
                FieldError(
                    "form_id",
                    "pattern",
                    f"{FORM_ID_VI} / form_id must match [a-z][a-z0-9_]{{1,63}}",
                )
            )
        _check_label(form.title, "title", errors)
    if errors:
        raise DefinitionError(errors)
    return form  # type: ignore[return-value]  # errors is empty, so form was converted


def _every_error(
    value: Any, kind: Any, path: str, exc: msgspec.ValidationError
) -> list[FieldError]:
    """Every problem of `value` as `kind`, which failed to convert with `exc`: msgspec stops at
    an object's first, and `title: {vi: 5, en: 6}` or a field's wrong `required` and wrong
    `max_length` came out one publish at a time. An object of a struct is checked key by key
    (its unknown keys, and a label's texts, too), a list item by item; `exc` is said if that
    finds nothing (a problem of the whole)."""
    item = _item_of(kind)
    if item is not None and isinstance(value, list):
        errors: list[FieldError] = []
        for i, v in enumerate(value):
            try:
                msgspec.convert(v, item)
            except msgspec.ValidationError as inner:
                errors += _every_error(v, item, f"{path}[{i}]", inner)
        return errors or [_from_msgspec(exc, path)]
    struct = _struct_of(kind)
    if struct is None or not isinstance(value, dict):
        return [_from_msgspec(exc, path)]
    names = struct.__struct_fields__
    required = names[: len(names) - len(struct.__struct_defaults__)]
    hints = get_type_hints(struct, include_extras=True)
    errors = [
        FieldError(
            f"{path}.{key}".lstrip("."), "unknown_field", f"Object contains unknown field `{key}`"
        )
        for key in value
        if key not in names
    ]
    for name in names:
        here = f"{path}.{name}".lstrip(".")
        if name not in value:
            if name in required:
                message = f"Object missing required field `{name}`"
                errors.append(FieldError(here, "required", message))
            continue
        try:
            converted = msgspec.convert(value[name], hints[name])
        except (msgspec.ValidationError, TypeError) as inner:
            if isinstance(inner, msgspec.ValidationError):
                errors += _every_error(value[name], hints[name], here, inner)
            else:
                return [_from_msgspec(exc, path)]
        else:  # what a label's own check would say of it, had the whole converted
            if struct is Label:
                _check_text(converted, here, errors)
            elif _struct_of(hints[name]) is Label:
                _check_label(converted, here, errors)
    return errors or [_from_msgspec(exc, path)]


def _struct_of(kind: Any) -> type[Struct] | None:
    """The struct `kind` is, or is one of (`Label | None`), if any."""
    if isinstance(kind, type) and issubclass(kind, Struct):
        return kind
    if get_origin(kind) is Union or type(kind).__name__ == "UnionType":
        structs = [a for a in get_args(kind) if isinstance(a, type) and issubclass(a, Struct)]
        return structs[0] if len(structs) == 1 else None
    return None


def _item_of(kind: Any) -> Any:
    """The type of the items of a list `kind` is, or is one of (`list[Choice] | None`)."""
    if get_origin(kind) is list:
        return get_args(kind)[0]
    if get_origin(kind) is Union or type(kind).__name__ == "UnionType":
        lists = [get_args(a)[0] for a in get_args(kind) if get_origin(a) is list]
        return lists[0] if len(lists) == 1 else None
    return None


def _from_msgspec(exc: msgspec.ValidationError, prefix: str) -> FieldError:
    from server.errors import msgspec_code  # errors imports validate, which imports forms

    message = str(exc)
    path = prefix
    if " - at `$" in message:
        message, _, where = message.partition(" - at `$")
        where = where.rstrip("`")
        path = (prefix + where).lstrip(".")
    code = msgspec_code(message)  # `type` for a value of the wrong JSON type, as elsewhere
    got = re.fullmatch(r"Expected `str[^`]*`, got `(\w+)`", message)
    kind = "NoneType" if got is not None and got[1] == "null" else got and got[1]
    if kind in YAML_TYPES:  # `~` or `null` unquoted: msgspec says null, YAML NoneType
        message = not_text(kind)
    elif message.startswith("Invalid enum value"):
        given = message.removeprefix("Invalid enum value ")
        types = ", ".join(FIELD_TYPES)
        message = (
            f"Không có kiểu {given}; kiểu là một trong: {types} / {message} (a type is one of:"
            f" {types})"
        )
    key = re.search(r"(unknown|missing required) field `([^`]*)`", message)
    if key is not None:
        # msgspec reports these at the enclosing object; the path names the key itself.
        code = "unknown_field" if key[1] == "unknown" else "required"
        path = f"{path}.{key[2]}".lstrip(".")
    return FieldError(path, code, message)


def _convert_fields(
    raw: list[Any], path: str, errors: list[FieldError], depth: int = 0
) -> list[Field]:
    """Convert and check one level of fields (and the levels below it); a field that does
    not convert is left out, but keeps its place so that the paths of the others stay true.
    `depth` is the number of repeat groups around this level."""
    slots: list[Field | None] = []
    for i, item in enumerate(raw):
        here = f"{path}[{i}]"
        nested = item.get("fields") if isinstance(item, dict) else None
        inner: list[Field] | None = None
        if nested is not None:
            if not isinstance(nested, list):
                errors.append(
                    FieldError(
                        f"{here}.fields", "type", "`fields` là một danh sách / fields is a list"
                    )
                )
            elif depth == MAX_REPEAT_DEPTH:
                message = (
                    f"Lồng nhau quá sâu: nhóm lặp chỉ được lồng tối đa {MAX_REPEAT_DEPTH} tầng / "
                    f"repeat groups may be nested at most {MAX_REPEAT_DEPTH} deep"
                )
                errors.append(FieldError(here, "too_deep", message))
            else:
                inner = _convert_fields(nested, f"{here}.fields", errors, depth + 1)
        if isinstance(item, dict):
            item = _known(item, Field, here, errors)
            # a whole number written as one (`max_length: 1000.0`), as `min: 1.0` is 1
            whole = item.get("max_length")
            if isinstance(whole, float) and whole.is_integer():
                item["max_length"] = int(whole)
            for key in ("label", "hint"):
                if isinstance(item.get(key), dict):
                    item[key] = _known(item[key], Label, f"{here}.{key}", errors)
            if isinstance(item.get("choices"), list):
                item["choices"] = [
                    _known_choice(c, f"{here}.choices[{j}]", errors) if isinstance(c, dict) else c
                    for j, c in enumerate(item["choices"])
                ]
        # each choice on its own first, its value and its label apart: msgspec stops at the
        # first of a field's problems, and `no`, `~` and `1.0` unquoted in three choices came
        # out one publish at a time. A choice that does not convert is said and kept in its
        # place as UNREAD, so that the field's other problems are said with it.
        if isinstance(item, dict) and isinstance(item.get("choices"), list):
            item["choices"] = [
                _choice_or_unread(c, j, f"{here}.choices[{j}]", errors)
                for j, c in enumerate(item["choices"])
            ]
        item = {**item, "fields": None} if nested is not None else item
        try:
            field = msgspec.convert(item, Field)
        except (msgspec.ValidationError, TypeError) as exc:
            if isinstance(exc, msgspec.ValidationError):
                errors += _every_error(item, Field, here, exc)
            else:
                errors.append(
                    FieldError(here, "type", "Mỗi trường là một đối tượng / a field is an object")
                )
            slots.append(None)
            continue
        field.fields = inner
        _tidy(field)
        slots.append(field)
    _check_fields(slots, path, errors)
    return [f for f in slots if f is not None]


def _known(
    item: dict[str, Any], kind: type[Struct], path: str, errors: list[FieldError]
) -> dict[str, Any]:
    """`item` without the keys `kind` does not have, each reported: the rest is still checked,
    so that one misspelt key does not hide the other problems of its field (msgspec stops at
    the first)."""
    known = kind.__struct_fields__
    for key in item:
        if key not in known:
            where = f"{path}.{key}".lstrip(".")
            errors.append(
                FieldError(where, "unknown_field", f"Object contains unknown field `{key}`")
            )
    return {k: v for k, v in item.items() if k in known}


def _choice_or_unread(choice: Any, j: int, path: str, errors: list[FieldError]) -> Any:
    """`choice` if it converts; else every problem of it said, each at its path, and in its
    place a choice of value UNREAD with a stand-in label, neither checked further (its own
    label's problems are said here, once)."""
    if not isinstance(choice, dict):
        return choice  # the field's conversion says it
    try:
        msgspec.convert(choice, Choice)
        return choice
    except msgspec.ValidationError as exc:
        errors += _every_error(choice, Choice, path, exc)
    return {"value": f"{UNREAD}{j}", "label": {"vi": "-", "en": "-"}}


def _known_choice(choice: dict[str, Any], path: str, errors: list[FieldError]) -> dict[str, Any]:
    choice = _known(choice, Choice, path, errors)
    if isinstance(choice.get("label"), dict):
        choice["label"] = _known(choice["label"], Label, f"{path}.label", errors)
    return choice


def _tidy(f: Field) -> None:
    """Spellings that mean the same written one way, so that they hash the same: an empty
    list is no list, and a whole number written `1.0` is `1`."""
    f.previous_names = f.previous_names or None
    f.choices = f.choices or None
    f.fields = f.fields or None
    if isinstance(f.min, float) and f.min.is_integer() and abs(f.min) <= MAX_BOUND:
        f.min = int(f.min)
    if isinstance(f.max, float) and f.max.is_integer() and abs(f.max) <= MAX_BOUND:
        f.max = int(f.max)


def _check_label(label: Label | None, path: str, errors: list[FieldError]) -> None:
    """A label is shown to officers as it is: it needs visible text and nothing unshown."""
    if label is None:
        return
    for lang in ("vi", "en"):
        _check_text(getattr(label, lang), f"{path}.{lang}", errors)


def _check_text(text: str, path: str, errors: list[FieldError]) -> None:
    """One language of a label: visible text, and nothing unshown."""
    bad = UNSHOWN.search(text)
    if bad is not None:
        code, at = f"U+{ord(bad[0]):04X}", bad.start() + 1
        message = (
            f"Ký tự {code} ở vị trí {at} không hiện thành chữ / "
            f"{code} at character {at} is not shown as text"
        )
        errors.append(FieldError(path, "control_character", message))
    elif shows_nothing(text):
        message = (
            "Nhãn cần có chữ nhìn thấy được, không chỉ khoảng trắng hay ký tự vô hình / "
            "a label needs visible text, not only spaces or invisible characters"
        )
        errors.append(FieldError(path, "required", message))


def _check_fields(fields: list[Field | None], path: str, errors: list[FieldError]) -> None:
    seen: dict[str, str] = {}
    if len(fields) > MAX_FIELDS:
        errors.append(
            FieldError(
                path, "max_items", f"Tối đa {MAX_FIELDS} trường / at most {MAX_FIELDS} fields"
            )
        )
    for i, f in enumerate(fields):
        if f is None:
            continue
        here = f"{path}[{i}]"
        if not FIELD_NAME_RE.fullmatch(f.name):
            errors.append(FieldError(f"{here}.name", "pattern", f"{NAME_VI} / {NAME_EN}"))
        names = [("name", f.name)]
        names += [(f"previous_names[{j}]", n) for j, n in enumerate(f.previous_names or [])]
        for where, n in names:
            if n in RESERVED_NAMES:
                message = (
                    f"Mọi đối tượng JavaScript đều có tên {n!r}: ứng dụng trên điện thoại cần "
                    f"tên khác / {n!r} is a name every JavaScript object has: the phone app "
                    f"needs another"
                )
                errors.append(FieldError(f"{here}.{where}", "reserved", message))
            if n in seen:
                at = seen[n]
                message = (
                    f"Tên {n!r} đã dùng ở {at} (là tên cũ của trường đó) / {n!r} is already used "
                    f"by {at} (as that field's previous name)"
                    if ".previous_names[" in at
                    else f"Tên {n!r} đã dùng ở {at} / {n!r} is already used by {at}"
                )
                errors.append(FieldError(f"{here}.{where}", "duplicate", message))
            seen[n] = here if where == "name" else f"{here}.{where}"
        for j, old in enumerate(f.previous_names or []):
            if not FIELD_NAME_RE.fullmatch(old):
                errors.append(
                    FieldError(f"{here}.previous_names[{j}]", "pattern", f"{NAME_VI} / {NAME_EN}")
                )
        _check_label(f.label, f"{here}.label", errors)
        _check_label(f.hint, f"{here}.hint", errors)
        for j, c in enumerate(f.choices or []):
            _check_label(c.label, f"{here}.choices[{j}].label", errors)
        _check_options(f, here, errors)


def _check_options(f: Field, here: str, errors: list[FieldError]) -> None:
    def err(sub: str, code: str, message: str) -> None:
        errors.append(FieldError(f"{here}.{sub}", code, message))

    counts = f.type in ("select_multiple", "repeat")
    if f.type in ("select_one", "select_multiple"):
        if not f.choices:
            err(
                "choices",
                "required",
                f"Trường {f.type} cần có lựa chọn / a {f.type} field needs choices",
            )
        values: set[str] = set()
        for j, c in enumerate(f.choices or []):
            if c.value.startswith(UNREAD):  # said already
                continue
            if not CHOICE_VALUE_RE.fullmatch(c.value):
                err(f"choices[{j}].value", "pattern", CHOICE_VALUE_MESSAGE)
            if c.value in values:
                err(
                    f"choices[{j}].value",
                    "duplicate",
                    f"Giá trị {c.value!r} bị trùng / duplicate value {c.value!r}",
                )
            values.add(c.value)
    elif f.choices is not None:
        err(
            "choices",
            "not_allowed",
            f"Chỉ trường chọn (select) mới có lựa chọn, trường {f.type} thì không / "
            f"choices are only for select fields, not {f.type}",
        )
    if f.type == "repeat":
        # (sub-fields given, each refused, are their errors: not a repeat with none)
        said = (here, f"{here}.fields")
        inner = f"{here}.fields["
        if not f.fields and not any(e.path in said or e.path.startswith(inner) for e in errors):
            err(
                "fields",
                "required",
                "Trường lặp (repeat) cần có các trường con / a repeat field needs its own fields",
            )
    elif f.fields is not None:
        err(
            "fields",
            "not_allowed",
            f"Chỉ trường lặp (repeat) mới có trường con, trường {f.type} thì không / "
            f"fields are only for repeat, not {f.type}",
        )
    for bound in ("min", "max"):
        value = getattr(f, bound)
        if value is None:
            continue
        if isinstance(value, float) and not math.isfinite(value):
            err(
                bound,
                "invalid",
                f"{bound} phải là một số hữu hạn / {bound} must be a finite number",
            )
        elif abs(value) > MAX_BOUND:
            err(
                bound,
                "range",
                f"{bound} phải nằm trong khoảng từ {-MAX_BOUND} đến {MAX_BOUND} / "
                f"{bound} must be between {-MAX_BOUND} and {MAX_BOUND}",
            )
        elif f.type not in ("integer", "decimal") and not counts:
            err(
                bound,
                "not_allowed",
                f"{bound} chỉ dùng cho trường số, select_multiple và repeat / "
                f"{bound} is for numbers, select_multiple and repeat",
            )
        elif (f.type == "integer" or counts) and isinstance(value, float):
            err(bound, "invalid", f"{bound} phải là số nguyên / {bound} must be a whole number")
        elif counts and value < 0:
            err(
                bound,
                "invalid",
                f"{bound} là số mục, không được âm / {bound} counts items: it must be >= 0",
            )
    if f.min is not None and f.max is not None and f.min > f.max:
        err("max", "invalid", "max nhỏ hơn min / max is below min")
    if f.type == "select_multiple" and f.choices and f.min is not None and f.min > len(f.choices):
        n = len(f.choices)
        err(
            "min",
            "invalid",
            f"min lớn hơn số lựa chọn ({n}) / min is above the number of choices ({n})",
        )
    if f.max_length is not None and (f.type != "text" or f.max_length < 1):
        err(
            "max_length",
            "invalid",
            "max_length là một số dương, chỉ dùng cho trường văn bản (text) / "
            "max_length is a positive number, for text fields only",
        )
    if f.pattern is not None:
        if f.type != "text":
            err(
                "pattern",
                "not_allowed",
                "pattern chỉ dùng cho trường văn bản (text) / pattern is for text fields only",
            )
        else:
            try:
                text_pattern(f.pattern, f.max_length)
            except PatternError as exc:
                err("pattern", exc.code, str(exc))


def canonical(form: FormDef) -> bytes:
    """The canonical encoding hashed for `sha256`: sorted keys, NFC text, defaults and empty
    lists omitted, whole numbers as integers (`min: 1.0` is `min: 1`)."""
    form = msgspec.json.decode(msgspec.json.encode(form), type=FormDef)  # a copy to tidy
    for _, f in walk(form.fields):
        _tidy(f)
    return msgspec.json.encode(msgspec.to_builtins(form), order="sorted")


def sha256(form: FormDef) -> str:
    return hashlib.sha256(canonical(form)).hexdigest()


def walk(fields: list[Field], prefix: str = "") -> Iterator[tuple[str, Field]]:
    """Every field with its dotted path (`cac_ben.ho_ten` for a field inside a repeat)."""
    for f in fields:
        yield prefix + f.name, f
        if f.fields:
            yield from walk(f.fields, f"{prefix}{f.name}.")
