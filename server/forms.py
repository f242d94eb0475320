"""Form definitions: load from YAML/JSON, check every rule at once, canonical hash.

Pure: no HTTP, no SQL. A definition that passes `parse_definition` is safe to publish as a
new version once `evolution.check_evolution` against the earlier versions finds nothing.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import unicodedata
from collections.abc import Iterator
from typing import Any, Literal

import msgspec
import yaml
from msgspec import Struct

from server import patterns, redos
from server.pattern_syntax import PatternError
from server.protocol import LONE_SURROGATE, FieldError, Label, lone_surrogate_path

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
MAX_FIELDS = 500
MAX_REPEAT_DEPTH = 8  # repeat groups inside one another
# Any definition is refused past these before it is read any further, so that nothing below
# recurses without end: arrays and objects inside one another (8 levels of repeat groups
# take about 20), and values counted as YAML aliases expand them (a 2 MiB body holds 1M).
MAX_NESTING = 64
MAX_VALUES = 1_000_000
# The bounds a phone's JavaScript holds exactly as whole numbers (validate.py limits
# submitted integers to the same).
MAX_BOUND = 2**53 - 1
# In a label: C0 controls and DEL, and the bidirectional overrides and isolates that make
# text show in another order than it is stored.
UNSHOWN = re.compile("[\x00-\x1f\x7f\u202a-\u202e\u2066-\u2069]")


class _DuplicateKey(ValueError):
    def __init__(self, key: Any, where: str = "") -> None:
        super().__init__(f"the key {key!r} appears twice in one object{where}")
        self.key = key


_MERGE = "tag:yaml.org,2002:merge"


class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """libyaml's safe loader when PyYAML was built with it (ten times faster than the pure
    one), refusing a key given twice in one mapping: YAML would keep the last silently.
    Merge keys (`<<: *anchor`) work as in `yaml.safe_load`: the keys written next to them
    win over the merged ones, and only the written keys must be distinct."""

    def construct_document(self, node: yaml.Node) -> Any:
        # Every mapping is checked before any is built: building flattens merge keys into
        # the mappings (and an anchored one may be merged before it is built itself).
        seen, stack = set(), [node]
        while stack:
            current = stack.pop()
            if id(current) in seen:
                continue  # an alias: the same node again
            seen.add(id(current))
            if isinstance(current, yaml.MappingNode):
                keys = set()
                for key_node, value_node in current.value:
                    stack += (key_node, value_node)
                    if key_node.tag == _MERGE or not isinstance(key_node, yaml.ScalarNode):
                        continue
                    key = self.construct_object(key_node)
                    if key in keys:
                        raise _DuplicateKey(key, f" (line {key_node.start_mark.line + 1})")
                    keys.add(key)
            elif isinstance(current, yaml.SequenceNode):
                stack += current.value
        return super().construct_document(node)


YAML_LOADER = _Loader


def _json_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _DuplicateKey(key)
        out[key] = value
    return out


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


class DefinitionError(Exception):
    """A definition that cannot be published; `errors` lists every problem found."""

    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__("; ".join(f"{e.path}: {e.message}" for e in errors))
        self.errors = errors


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


def read_source(text: str | bytes, filename: str = "") -> Any:
    """YAML or JSON text to plain data (JSON is YAML, but JSON errors read better from json)."""
    try:
        if isinstance(text, bytes):
            text = text.decode("utf-8")
        # A byte order mark, as Windows editors save UTF-8: YAML skips it, json refuses it.
        text = text.removeprefix("\ufeff")
        if filename.endswith(".json") or text.lstrip().startswith("{"):
            data = json.loads(text, object_pairs_hook=_json_object)
        else:
            data = yaml.load(text, Loader=YAML_LOADER)  # noqa: S506 (a safe loader)
        shape = _shape_error(data) or _key_error(data)
        if shape is not None:
            raise DefinitionError([shape])
        # json.loads and YAML let a lone surrogate escape ("\ud800") through: not Unicode
        where = lone_surrogate_path(data)
        if where is not None:
            raise DefinitionError(
                [FieldError(where.removeprefix("."), "malformed", LONE_SURROGATE)]
            )
        msgspec.json.encode(data)
    except _DuplicateKey as exc:
        raise DefinitionError([FieldError("", "duplicate_key", str(exc))]) from exc
    except (ValueError, TypeError, RecursionError, yaml.YAMLError) as exc:
        raise DefinitionError([FieldError("", "syntax", f"not valid YAML or JSON: {exc}")]) from exc
    return data


def _shape_error(data: Any) -> FieldError | None:
    """Where `data` nests deeper than MAX_NESTING or holds more than MAX_VALUES values (a
    YAML alias counts its value again each time), found without recursion."""
    stack: list[tuple[Any, int, tuple[Any, ...]]] = [(data, 0, ())]
    count = 0
    while stack:
        value, depth, trail = stack.pop()
        count += 1
        if count > MAX_VALUES:
            return FieldError("", "too_large", f"a definition holds at most {MAX_VALUES} values")
        if isinstance(value, dict | list):
            if depth == MAX_NESTING:
                return _too_deep(trail)
            items = value.items() if isinstance(value, dict) else enumerate(value)
            stack.extend((v, depth + 1, (trail, k)) for k, v in items)
    return None


# What YAML makes of a scalar written without quotes, other than text (`no` is false).
_YAML_TYPES = {
    "bool": (
        "đúng/sai (yes, no, on, off, true, false)",
        "true/false (yes, no, on, off, true, false)",
    ),
    "int": ("một số", "a number"),
    "float": ("một số", "a number"),
    "date": ("một ngày", "a date"),
    "datetime": ("một thời điểm", "a time"),
    "NoneType": ("rỗng (null, ~)", "null (null, ~)"),
}


def _not_text(what: str) -> str:
    """The message for a scalar YAML typed where text belongs (`value: no`, `name: on`)."""
    vi, en = _YAML_TYPES[what]
    return (
        f"cần chữ, nhưng YAML đọc giá trị viết không có ngoặc kép này là {vi}: hãy đặt nó trong "
        f'ngoặc kép, vd. value: "no", value: "1" / expected text, got {what}: YAML reads this '
        f'value written without quotes as {en}; put it in quotes, e.g. value: "no", '
        'value: "1"'
    )


def _key_error(data: Any) -> FieldError | None:
    """Where `data` has a key that is not text (YAML reads `yes:`, `1:` or `2025-01-01:` as
    true, a number, a date), found without recursion (after `_shape_error` bounded it)."""
    stack: list[tuple[Any, str]] = [(data, "")]
    while stack:
        value, path = stack.pop()
        if isinstance(value, dict):
            for key, v in value.items():
                if not isinstance(key, str):
                    kind = type(key).__name__
                    what = kind if kind in _YAML_TYPES else "a value that is not text"
                    vi, en = _YAML_TYPES.get(kind, ("một giá trị không phải chữ", what))
                    message = (
                        f"khóa {key!r} không phải chữ: YAML đọc khóa viết không có ngoặc kép này "
                        f"là {vi}; hãy đặt nó trong ngoặc kép / the key {key!r} is not text: "
                        f"YAML reads this key written without quotes as {en}; put it in quotes"
                    )
                    return FieldError(path or "(top)", "type", message)
                stack.append((v, f"{path}.{key}".lstrip(".")))
        elif isinstance(value, list):
            stack.extend((v, f"{path}[{i}]") for i, v in enumerate(value))
    return None


def _too_deep(trail: tuple[Any, ...]) -> FieldError:
    """The error for the value at `trail` (nested pairs of parent and key): repeat groups
    inside one another are refused at the first one too many, as `_convert_fields` does."""
    keys: list[Any] = []
    while trail:
        trail, key = trail
        keys.append(key)
    keys.reverse()
    groups = 0  # `fields[i]` steps from the top: a field, a field of a group in it, ...
    for name, index in zip(keys[::2], keys[1::2], strict=False):
        if name != "fields" or not isinstance(index, int):
            break
        groups += 1
    if groups > MAX_REPEAT_DEPTH + 1:  # inside the fields of a group one level too deep
        path = ".".join(f"fields[{i}]" for i in keys[1 : 2 * MAX_REPEAT_DEPTH + 2 : 2])
        message = f"repeat groups may be nested at most {MAX_REPEAT_DEPTH} deep"
        return FieldError(path, "too_deep", message)
    path = "".join(f"[{k}]" if isinstance(k, int) else f".{k}" for k in keys).lstrip(".")
    message = f"nested too deeply (over {MAX_NESTING} levels of objects and lists)"
    return FieldError(path, "too_deep", message)


def parse_definition(source: Any) -> FormDef:
    """Plain data -> a checked FormDef, or DefinitionError listing every problem at once."""
    shape = _shape_error(source) or _key_error(source)
    if shape is not None:
        raise DefinitionError([shape])
    source = nfc(source)
    if not isinstance(source, dict):
        raise DefinitionError([FieldError("", "type", "a form definition is an object")])
    errors: list[FieldError] = []
    raw_fields = source.get("fields")
    shell = {**source, "fields": []}
    try:
        form = msgspec.convert(shell, FormDef)
    except msgspec.ValidationError as exc:
        errors.append(_from_msgspec(exc, ""))
        form = None
    fields: list[Field] = []
    if not isinstance(raw_fields, list) or not raw_fields:
        errors.append(FieldError("fields", "required", "a form needs a non-empty list of fields"))
    else:
        fields = _convert_fields(raw_fields, "fields", errors)
    if form is not None:
        form.fields = fields
        if not FORM_ID_RE.fullmatch(form.form_id):
            errors.append(
                FieldError("form_id", "pattern", "form_id must match [a-z][a-z0-9_]{1,63}")
            )
        _check_label(form.title, "title", errors)
    if errors:
        raise DefinitionError(errors)
    return form  # type: ignore[return-value]  # errors is empty, so form was converted


def _from_msgspec(exc: msgspec.ValidationError, prefix: str) -> FieldError:
    message = str(exc)
    path = prefix
    if " - at `$" in message:
        message, _, where = message.partition(" - at `$")
        where = where.rstrip("`")
        path = (prefix + where).lstrip(".")
    code = "invalid"
    got = re.fullmatch(r"Expected `str[^`]*`, got `(\w+)`", message)
    if got is not None and got[1] in _YAML_TYPES:
        message = _not_text(got[1])
    elif message.startswith("Invalid enum value"):
        message += f" (a type is one of: {', '.join(FIELD_TYPES)})"
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
                errors.append(FieldError(f"{here}.fields", "type", "fields is a list"))
            elif depth == MAX_REPEAT_DEPTH:
                message = f"repeat groups may be nested at most {MAX_REPEAT_DEPTH} deep"
                errors.append(FieldError(here, "too_deep", message))
            else:
                inner = _convert_fields(nested, f"{here}.fields", errors, depth + 1)
        try:
            field = msgspec.convert({**item, "fields": None} if nested is not None else item, Field)
        except (msgspec.ValidationError, TypeError) as exc:
            if isinstance(exc, msgspec.ValidationError):
                errors.append(_from_msgspec(exc, here))
            else:
                errors.append(FieldError(here, "type", "a field is an object"))
            slots.append(None)
            continue
        field.fields = inner
        _tidy(field)
        slots.append(field)
    _check_fields(slots, path, errors)
    return [f for f in slots if f is not None]


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
        text = getattr(label, lang)
        bad = UNSHOWN.search(text)
        if bad is not None:
            message = f"U+{ord(bad[0]):04X} at character {bad.start() + 1} is not shown as text"
            errors.append(FieldError(f"{path}.{lang}", "control_character", message))
        elif not text.strip():
            message = "a label needs visible text, not only spaces"
            errors.append(FieldError(f"{path}.{lang}", "required", message))


def _check_fields(fields: list[Field | None], path: str, errors: list[FieldError]) -> None:
    seen: dict[str, str] = {}
    if len(fields) > MAX_FIELDS:
        errors.append(FieldError(path, "max_items", f"at most {MAX_FIELDS} fields"))
    for i, f in enumerate(fields):
        if f is None:
            continue
        here = f"{path}[{i}]"
        if not FIELD_NAME_RE.fullmatch(f.name):
            errors.append(
                FieldError(
                    f"{here}.name", "pattern", "a field name must match [a-z][a-z0-9_]{0,63}"
                )
            )
        names = [("name", f.name)]
        names += [(f"previous_names[{j}]", n) for j, n in enumerate(f.previous_names or [])]
        for where, n in names:
            if n in seen:
                message = f"{n!r} is already used by {seen[n]}"
                errors.append(FieldError(f"{here}.{where}", "duplicate", message))
            seen[n] = here
        for j, old in enumerate(f.previous_names or []):
            if not FIELD_NAME_RE.fullmatch(old):
                errors.append(
                    FieldError(
                        f"{here}.previous_names[{j}]",
                        "pattern",
                        "a field name must match [a-z][a-z0-9_]{0,63}",
                    )
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
            err("choices", "required", f"a {f.type} field needs choices")
        values: set[str] = set()
        for j, c in enumerate(f.choices or []):
            if not CHOICE_VALUE_RE.fullmatch(c.value):
                err(f"choices[{j}].value", "pattern", "a choice value must match [A-Za-z0-9_.-]+")
            if c.value in values:
                err(f"choices[{j}].value", "duplicate", f"duplicate value {c.value!r}")
            values.add(c.value)
    elif f.choices is not None:
        err("choices", "not_allowed", f"choices are only for select fields, not {f.type}")
    if f.type == "repeat":
        if not f.fields and not any(e.path in (here, f"{here}.fields") for e in errors):
            err("fields", "required", "a repeat field needs its own fields")
    elif f.fields is not None:
        err("fields", "not_allowed", f"fields are only for repeat, not {f.type}")
    for bound in ("min", "max"):
        value = getattr(f, bound)
        if value is None:
            continue
        if isinstance(value, float) and not math.isfinite(value):
            err(bound, "invalid", f"{bound} must be a finite number")
        elif abs(value) > MAX_BOUND:
            err(bound, "range", f"{bound} must be between {-MAX_BOUND} and {MAX_BOUND}")
        elif f.type not in ("integer", "decimal") and not counts:
            err(bound, "not_allowed", f"{bound} is for numbers, select_multiple and repeat")
        elif (f.type == "integer" or counts) and isinstance(value, float):
            err(bound, "invalid", f"{bound} must be a whole number")
        elif counts and value < 0:
            err(bound, "invalid", f"{bound} counts items: it must be >= 0")
    if f.min is not None and f.max is not None and f.min > f.max:
        err("max", "invalid", "max is below min")
    if f.type == "select_multiple" and f.choices and f.min is not None and f.min > len(f.choices):
        err("min", "invalid", f"min is above the number of choices ({len(f.choices)})")
    if f.max_length is not None and (f.type != "text" or f.max_length < 1):
        err("max_length", "invalid", "max_length is a positive number, for text fields only")
    if f.pattern is not None:
        if f.type != "text":
            err("pattern", "not_allowed", "pattern is for text fields only")
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
