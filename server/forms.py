"""Form definitions: load from YAML/JSON, check every rule at once, canonical hash, evolution.

Pure: no HTTP, no SQL. A definition that passes `parse_definition` is safe to publish as a
new version once `check_evolution` against the earlier versions finds nothing.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import unicodedata
from collections.abc import Iterator, Sequence
from typing import Any, Literal

import msgspec
import yaml
from msgspec import Struct

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
MAX_FIELDS = 500


class _DuplicateKey(ValueError):
    def __init__(self, key: Any, where: str = "") -> None:
        super().__init__(f"the key {key!r} appears twice in one object{where}")
        self.key = key


class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """libyaml's safe loader when PyYAML was built with it (ten times faster than the pure
    one), refusing a key given twice in one mapping: YAML would keep the last silently."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise _DuplicateKey(key, f" (line {key_node.start_mark.line + 1})")
            seen.add(key)
        return super().construct_mapping(node, deep)  # type: ignore[no-any-return]


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


def text_pattern(source: str) -> re.Pattern[str]:
    """A text field's `pattern`, compiled to match as the phones' JavaScript does (`RegExp`
    with the `u` flag, tested anywhere in the value): `$` is the end of the value (Python's
    `$` also matches before a final newline, so `^0[0-9]{9}$` would let "0912345678\\n"
    through), and `\\d`, `\\w`, `\\b` are ASCII."""
    out, i, in_class = [], 0, False
    while i < len(source):
        c = source[i]
        if c == "\\":
            out.append(source[i : i + 2])
            i += 2
            continue
        if in_class:
            in_class = c != "]"
        elif c == "[":
            in_class = True
            out.append(c)
            i += 1
            for lead in ("^", "]"):  # `[]...]` and `[^]...]` start with a literal `]`
                if source[i : i + 1] == lead:
                    out.append(lead)
                    i += 1
            continue
        elif c == "$":
            c = r"\Z"
        out.append(c)
        i += 1
    return re.compile("".join(out), re.ASCII)


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
        if filename.endswith(".json") or text.lstrip().startswith("{"):
            data = json.loads(text, object_pairs_hook=_json_object)
        else:
            data = yaml.load(text, Loader=YAML_LOADER)  # noqa: S506 (a safe loader)
        # json.loads lets a lone surrogate escape ("\ud800") through: that is not Unicode
        msgspec.json.encode(data)
    except _DuplicateKey as exc:
        raise DefinitionError([FieldError("", "duplicate_key", str(exc))]) from exc
    except (ValueError, TypeError, RecursionError, yaml.YAMLError) as exc:
        raise DefinitionError([FieldError("", "syntax", f"not valid YAML or JSON: {exc}")]) from exc
    return data


def parse_definition(source: Any) -> FormDef:
    """Plain data -> a checked FormDef, or DefinitionError listing every problem at once."""
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
    key = re.search(r"(unknown|missing required) field `([^`]*)`", message)
    if key is not None:
        # msgspec reports these at the enclosing object; the path names the key itself.
        code = "unknown_field" if key[1] == "unknown" else "required"
        path = f"{path}.{key[2]}".lstrip(".")
    return FieldError(path, code, message)


def _convert_fields(raw: list[Any], path: str, errors: list[FieldError]) -> list[Field]:
    """Convert and check one level of fields (and the levels below it); a field that does
    not convert is left out, but keeps its place so that the paths of the others stay true."""
    slots: list[Field | None] = []
    for i, item in enumerate(raw):
        here = f"{path}[{i}]"
        nested = item.get("fields") if isinstance(item, dict) else None
        inner: list[Field] | None = None
        if nested is not None:
            if isinstance(nested, list):
                inner = _convert_fields(nested, f"{here}.fields", errors)
            else:
                errors.append(FieldError(f"{here}.fields", "type", "fields is a list"))
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
        slots.append(field)
    _check_fields(slots, path, errors)
    return [f for f in slots if f is not None]


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
        if not f.fields:
            err("fields", "required", "a repeat field needs its own fields")
    elif f.fields is not None:
        err("fields", "not_allowed", f"fields are only for repeat, not {f.type}")
    for bound in ("min", "max"):
        value = getattr(f, bound)
        if value is None:
            continue
        if isinstance(value, float) and not math.isfinite(value):
            err(bound, "invalid", f"{bound} must be a finite number")
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
                text_pattern(f.pattern)
            except re.error as exc:
                err("pattern", "invalid", f"not a valid regular expression: {exc}")


def canonical(form: FormDef) -> bytes:
    """The canonical encoding hashed for `sha256`: sorted keys, defaults omitted, NFC text."""
    return msgspec.json.encode(msgspec.to_builtins(form), order="sorted")


def sha256(form: FormDef) -> str:
    return hashlib.sha256(canonical(form)).hexdigest()


def walk(fields: list[Field], prefix: str = "") -> Iterator[tuple[str, Field]]:
    """Every field with its dotted path (`cac_ben.ho_ten` for a field inside a repeat)."""
    for f in fields:
        yield prefix + f.name, f
        if f.fields:
            yield from walk(f.fields, f"{prefix}{f.name}.")


def check_evolution(earlier: list[FormDef], new: FormDef) -> list[FieldError]:
    """A field may not change type between versions; a rename goes through previous_names."""
    types: dict[str, tuple[str, int]] = {}
    for number, old in enumerate(earlier, start=1):
        for dotted, f in walk(old.fields):
            types[dotted] = (f.type, number)
    errors = []
    for dotted, f in walk(new.fields):
        parent = dotted.rpartition(".")[0]
        names = [dotted] + [f"{parent}.{n}" if parent else n for n in f.previous_names or []]
        for name in names:
            if name in types and types[name][0] != f.type:
                old_type, version = types[name]
                errors.append(
                    FieldError(
                        _field_path(new.fields, dotted),
                        "type_changed",
                        f"{name!r} was {old_type} in version {version}; a field never changes "
                        f"type (add a new field instead)",
                    )
                )
    return errors


def _field_path(fields: list[Field], dotted: str) -> str:
    """`cac_ben.ho_ten` -> `fields[2].fields[0]`, the path of that field in the definition."""
    path, current = "", fields
    for part in dotted.split("."):
        index = next(i for i, f in enumerate(current) if f.name == part)
        path = f"{path}.fields[{index}]" if path else f"fields[{index}]"
        current = current[index].fields or []
    return path


def rename_map(latest: FormDef, earlier: Sequence[FormDef] = ()) -> dict[str, str]:
    """Old names -> the names data is kept under now, following chains of renames across
    versions (v2 renames a to b, v3 renames b to c: a maps to c even when v3 lists only b).
    A chain that ends in a field removed since maps to that field's last name. Fields inside
    a repeat group appear as `group.old` -> `new` (group under its latest name)."""
    out = _renames([v.fields for v in [*earlier, latest]])
    groups: dict[str, list[list[Field]]] = {}
    for version in [*earlier, latest]:
        for f in version.fields:
            if f.type == "repeat" and f.fields:
                groups.setdefault(out.get(f.name, f.name), []).append(f.fields)
    latest_groups = {f.name for f in latest.fields if f.type == "repeat"}
    for group, lists in groups.items():
        if group in latest_groups:
            out.update({f"{group}.{old}": new for old, new in _renames(lists).items()})
    return out


def _renames(versions: Sequence[Sequence[Field]]) -> dict[str, str]:
    """Renames among sibling fields over versions (the last list is the latest)."""
    direct: dict[str, str] = {}
    for fields in versions:
        for f in fields:
            for old in f.previous_names or []:
                direct[old] = f.name
    current = {f.name for f in versions[-1]}
    out = {}
    for old in direct:
        if old in current:
            continue  # a name in use now is never mapped away
        name, seen = old, {old}
        while name in direct and name not in current and direct[name] not in seen:
            name = direct[name]
            seen.add(name)
        if name != old:
            out[old] = name
    return out
