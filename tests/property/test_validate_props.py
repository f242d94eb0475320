"""Properties of submission validation over generated form definitions and data:

(a) data generated from any definition (and from the real schemas) validates;
(b) any single mutation of valid data that breaks one rule is rejected, with an error whose
    path points at the mutated field;
(c) NFC normalisation is idempotent, and NFD input validates exactly like NFC input.
"""

from __future__ import annotations

import copy
import math
import re
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta, timezone
from pathlib import Path
from typing import Any

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from server import patterns
from server.form_source import read_source
from server.forms import FIELD_TYPES, Field, FormDef, parse_definition
from server.validate import BLANK_RE, MAX_SAFE_INT, MAX_TEXT, compile_form

SCHEMAS = {
    p.stem: parse_definition(read_source(p.read_text("utf-8"), p.name))
    for p in sorted((Path(__file__).parents[2] / "schemas").glob("*.yaml"))
}

# Patterns with a string that none of them matches ("!"); `x` is unanchored on purpose.
PATTERNS = ["^0[0-9]{9,10}$", "^[a-z]+$", "^[A-Z]{2}[0-9]{2}$", "x", r"^\d{3}-\d{4}$"]
NO_MATCH = "!"
UNKNOWN = "x_unknown"  # generated names have no "_", so this is never a field
NOT_A_CHOICE = "không có"  # a space: never a choice value
TYPES = list(FIELD_TYPES)  # every type the server knows, so a new one needs a strategy here


def nfc(s: str) -> str:
    return unicodedata.normalize("NFC", s)


def normalised(value: Any, form: str) -> Any:
    if isinstance(value, str):
        return unicodedata.normalize(form, value)
    if isinstance(value, list):
        return [normalised(v, form) for v in value]
    if isinstance(value, dict):
        return {normalised(k, form): normalised(v, form) for k, v in value.items()}
    return value


# --- definitions ----------------------------------------------------------------------------

# Vietnamese in NFD, so labels and text come in both forms
VIETNAMESE = ["Hòa giải", "Tổ dân phố", "Nguyễn Thị Ánh", "Đất đai", "ruộng lúa"]
labels = st.fixed_dictionaries(
    {
        "vi": st.sampled_from(VIETNAMESE).map(lambda s: unicodedata.normalize("NFD", s)),
        "en": st.sampled_from(["Mediation", "Land", "Name"]),
    }
)
names = st.from_regex(r"[a-z][a-z0-9]{0,8}", fullmatch=True)
choice_values = st.from_regex(r"[A-Za-z0-9_.-]{1,12}", fullmatch=True)
small = st.integers(-(10**6), 10**6)
bound = st.one_of(small, st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False))


def ordered(a: Any, b: Any) -> tuple[Any, Any]:
    return (a, b) if a is None or b is None or a <= b else (b, a)


@st.composite
def field_defs(draw: st.DrawFn, name: str, depth: int) -> dict[str, Any]:
    type_ = draw(st.sampled_from(TYPES if depth < 2 else [t for t in TYPES if t != "repeat"]))
    f: dict[str, Any] = {"name": name, "type": type_, "label": draw(labels)}
    required = draw(st.booleans())
    if required or draw(st.booleans()):
        f["required"] = required
    if draw(st.booleans()):
        f["previous_names"] = [name + "_old"]
    if type_ == "text":
        pattern = draw(st.none() | st.sampled_from(PATTERNS))
        if pattern is not None:
            f["pattern"] = pattern
        max_length = draw(st.none() | st.integers(1 if pattern is None else 20, 40))
        if max_length is not None:
            f["max_length"] = max_length
    elif type_ in ("integer", "decimal"):
        low, high = ordered(
            draw(st.none() | (small if type_ == "integer" else bound)),
            draw(st.none() | (small if type_ == "integer" else bound)),
        )
        f |= {k: v for k, v in (("min", low), ("max", high)) if v is not None}
    elif type_ in ("select_one", "select_multiple"):
        values = draw(st.lists(choice_values, min_size=1, max_size=5, unique=True))
        f["choices"] = [{"value": v, "label": draw(labels)} for v in values]
    elif type_ == "repeat":
        inner = draw(st.lists(names, min_size=1, max_size=4, unique=True))
        f["fields"] = [draw(field_defs(n, depth + 1)) for n in inner]
    if type_ in ("select_multiple", "repeat"):
        most = len(f["choices"]) if type_ == "select_multiple" else 4
        low, high = ordered(
            draw(st.none() | st.integers(0, most)), draw(st.none() | st.integers(0, most + 2))
        )
        if required and high == 0:
            high = None  # required with at most 0 items could never be filled
        f |= {k: v for k, v in (("min", low), ("max", high)) if v is not None}
    return f


@st.composite
def definitions(draw: st.DrawFn) -> dict[str, Any]:
    field_names = draw(st.lists(names, min_size=1, max_size=8, unique=True))
    return {
        "form_id": draw(st.from_regex(r"[a-z][a-z0-9_]{1,20}", fullmatch=True)),
        "title": draw(labels),
        "fields": [draw(field_defs(n, 0)) for n in field_names],
        "sync_to_devices": draw(st.booleans()),
    }


forms = definitions().map(parse_definition)
any_form = st.one_of(forms, st.sampled_from(sorted(SCHEMAS.values(), key=lambda f: f.form_id)))


# --- valid data for a definition ------------------------------------------------------------

letters = st.characters(codec="utf-8", exclude_characters="\x00") | st.sampled_from(
    list("aăâeêiôơưđ\u0300\u0301\u0303\u0309\u0323")
)


def text_values(f: Field) -> st.SearchStrategy[str]:
    limit = f.max_length or MAX_TEXT
    if f.pattern is not None:
        # as the server (and the phone) match it, in Python's re for from_regex
        pattern = re.compile(patterns.compile(f.pattern).python)
        values = (
            st.from_regex(pattern)
            .map(nfc)
            .filter(lambda s: bool(pattern.search(s)) and "\x00" not in s)
        )
    else:
        values = st.text(letters, max_size=min(limit, 30))
    values = values.filter(lambda s: len(nfc(s)) <= limit)
    # blank (only spaces and invisible characters) is missing
    return values.filter(lambda v: not BLANK_RE.fullmatch(v)) if f.required else values


def datetimes() -> st.SearchStrategy[str]:
    offsets = st.integers(-(24 * 60 - 1), 24 * 60 - 1).map(lambda m: timezone(timedelta(minutes=m)))
    stamps = st.builds(lambda d, tz: d.replace(tzinfo=tz).isoformat(), st.datetimes(), offsets)
    return stamps.flatmap(
        lambda s: st.sampled_from([s, s.replace("+00:00", "Z"), s.replace("T", " ")])
    )


def decimal_values(f: Field) -> st.SearchStrategy[int | float]:
    floats = st.floats(  # any number, whole or not, within what readers hold exactly
        max(f.min, -MAX_SAFE_INT) if f.min is not None else -MAX_SAFE_INT,
        min(f.max, MAX_SAFE_INT) if f.max is not None else MAX_SAFE_INT,
        allow_nan=False,
        allow_infinity=False,
    )
    low = -MAX_SAFE_INT if f.min is None else max(math.ceil(f.min), -MAX_SAFE_INT)
    high = MAX_SAFE_INT if f.max is None else min(math.floor(f.max), MAX_SAFE_INT)
    if low is not None and high is not None and low > high:
        return floats
    return floats | st.integers(low, high)


def count_range(f: Field, most: int) -> tuple[int, int]:
    low = max(int(f.min or 0), 1 if f.required else 0)
    most = max(most, low)
    high = most if f.max is None else min(int(f.max), most)
    return low, high


def values_for(f: Field) -> st.SearchStrategy[Any]:
    if f.type == "text":
        return text_values(f)
    if f.type == "integer":
        return st.integers(  # within what every reader holds exactly (validate.MAX_SAFE_INT)
            -MAX_SAFE_INT if f.min is None else max(int(f.min), -MAX_SAFE_INT),
            MAX_SAFE_INT if f.max is None else min(int(f.max), MAX_SAFE_INT),
        )
    if f.type == "decimal":
        return decimal_values(f)
    if f.type == "boolean":
        return st.booleans()
    if f.type == "date":
        return st.dates().map(lambda d: d.isoformat())
    if f.type == "datetime":
        return datetimes()
    choices = [c.value for c in f.choices or []]
    if f.type == "select_one":
        return st.sampled_from(choices)
    if f.type == "select_multiple":
        low, high = count_range(f, len(choices))
        return st.lists(st.sampled_from(choices), min_size=low, max_size=high, unique=True)
    if f.type == "geopoint":
        return st.fixed_dictionaries(
            {"lat": st.floats(-90, 90), "lon": st.floats(-180, 180)},
            optional={"alt": st.floats(-20_000, 100_000), "accuracy": st.floats(0, 1e7)},
        )
    assert f.type == "repeat"
    low, high = count_range(f, 3)
    return st.lists(objects(f.fields or [], whole=True), min_size=low, max_size=high)


@st.composite
def objects(draw: st.DrawFn, fields: list[Field], *, whole: bool) -> dict[str, Any]:
    """A valid object for `fields`; `whole` (a new record, or a repeat group) has every
    required field, an edit may leave any field out but never nulls a required one."""
    out: dict[str, Any] = {}
    for f in fields:
        kind = draw(st.sampled_from(["value", "value", "absent", "null"]))
        if f.required and whole:
            kind = "value"
        if kind == "null" and f.required:
            kind = "absent"
        if kind == "value":
            out[f.name] = draw(values_for(f))
        elif kind == "null":
            out[f.name] = None
    return out


@st.composite
def forms_with_data(
    draw: st.DrawFn, form_strategy: st.SearchStrategy[FormDef] = any_form
) -> tuple[FormDef, bool, dict[str, Any]]:
    form = draw(form_strategy)
    creating = draw(st.booleans())
    return form, creating, draw(objects(form.fields, whole=creating))


# --- (a) generated data validates -----------------------------------------------------------


@given(definitions())
def test_generated_definitions_are_valid(source: dict[str, Any]) -> None:
    form = parse_definition(source)
    assert len(form.fields) == len(source["fields"])


def kept(fields: list[Field], data: dict[str, Any], *, group: bool = False) -> dict[str, Any]:
    """What the validator keeps of valid `data`: text in NFC, the choices of each
    select_multiple in the form's order (a set of ticked boxes, whatever order they came in),
    and in a repeat group's entry (`group`) no null sub-field (null is no value there)."""
    out = {}
    for key, value in normalised(data, "NFC").items():
        if group and value is None:
            continue
        f = next(f for f in fields if f.name == key)
        if f.type == "select_multiple" and value is not None:
            order = [c.value for c in f.choices or []]
            value = sorted(value, key=order.index)
        elif f.type == "repeat" and value is not None:
            value = [kept(f.fields or [], item, group=True) for item in value]
        out[key] = value
    return out


@given(forms_with_data())
def test_generated_data_validates(case: tuple[FormDef, bool, dict[str, Any]]) -> None:
    form, creating, data = case
    out, errors = compile_form(form, 1)(data, creating=creating)
    assert errors == []
    assert out == kept(form.fields, data)


@pytest.mark.parametrize("name", sorted(SCHEMAS))
@given(data=st.data())
def test_generated_data_validates_for_the_real_schemas(name: str, data: st.DataObject) -> None:
    form = SCHEMAS[name]
    creating = data.draw(st.booleans(), label="creating")
    item = data.draw(objects(form.fields, whole=creating), label="data")
    out, errors = compile_form(form, 1)(item, creating=creating)
    assert errors == []
    assert out == kept(form.fields, item)


# --- (b) a single broken rule is rejected at the mutated field ------------------------------


@dataclass
class Mutation:
    what: str
    field: str  # the path of the mutated field: every error must point into it
    path: str  # where the expected error is (the field, or a part of it)
    code: str
    apply: Callable[[dict[str, Any]], None]


WRONG_TYPE: dict[str, list[Any]] = {
    "text": [5, True, ["a"]],
    "integer": ["1", True, 1.5, 2.5],  # 2.0 is the integer 2 (validate._whole); 2.5e300 is range
    "decimal": ["1.5", False, float("inf"), float("-inf"), float("nan")],
    "boolean": [0, 1, "true"],
    "date": [20250701, True],
    "datetime": [1751333400, 1.5],
    "select_one": [1, ["a"]],
    "select_multiple": ["a", {"a": 1}],
    "geopoint": [[21.0, 105.8], "21,105"],
    "repeat": [{}, "x"],
}


def mutations(
    fields: list[Field], obj: dict[str, Any], path: str, at: list[Any], whole: bool
) -> Iterator[Mutation]:
    """Every single-rule mutation of `obj` (found in the item under the keys `at`)."""

    def put(name: str, value: Any) -> Callable[[dict[str, Any]], None]:
        def apply(root: dict[str, Any]) -> None:
            target = root
            for key in at:
                target = target[key]
            if value is DELETE:
                del target[name]
            else:
                target[name] = copy.deepcopy(value)

        return apply

    prefix = f"{path}." if path else ""
    unknown = prefix + UNKNOWN
    yield Mutation("unknown field", unknown, unknown, "unknown_field", put(UNKNOWN, 1))
    for f in fields:
        here = prefix + f.name
        current = obj.get(f.name)

        def m(
            what: str, code: str, value: Any, where: str = "", f: Field = f, here: str = here
        ) -> Mutation:
            what = f"{f.type} {f.name}: {what}"
            return Mutation(what, here, here + where, code, put(f.name, value))

        for wrong in WRONG_TYPE[f.type]:
            yield m(f"wrong type {wrong!r}", "type", wrong)
        if f.required:
            yield m("null", "required", None)
            if whole and f.name in obj:
                yield m("missing", "required", DELETE)
        if f.type == "text":
            if f.required:
                yield m("empty", "required", "")
            if f.max_length is not None:
                yield m("too long", "max_length", "a" * (f.max_length + 1))
            if f.pattern is not None:
                yield m("pattern miss", "pattern", NO_MATCH)
        if f.type in ("integer", "decimal"):
            if f.min is not None:
                yield m("below min", "min", f.min - 1)
            if f.max is not None:
                yield m("above max", "max", f.max + 1)
            # past what readers hold exactly, however written: range, never min/max or type
            yield m("past 2**53 - 1", "range", 2**53)
            yield m("past 2**53 - 1, as a float", "range", -2.5e300)
        if f.type == "date":
            yield m("no such day", "format", "2025-02-30")
        if f.type == "datetime":
            yield m("no offset", "format", "2025-07-01T08:30:00")
        choices = [c.value for c in f.choices or []]
        if f.type == "select_one":
            yield m("not a choice", "choice", NOT_A_CHOICE)
        if f.type == "select_multiple":
            chosen = list(current or [])
            yield m("not a choice", "choice", [*chosen, NOT_A_CHOICE], f"[{len(chosen)}]")
            twice = chosen or choices[:1]
            yield m("chosen twice", "duplicate", [*twice, twice[0]], f"[{len(twice)}]")
            few = choices[: int(f.min or 0) - 1]
            # none at all is `required` alone of a required field, no answer of an optional one
            if f.min and (few or f.required):
                yield m("too few", "min_items" if few else "required", few)
            if f.max is not None and f.max < len(choices):
                yield m("too many", "max_items", choices[: int(f.max) + 1])
        if f.type == "geopoint":
            point = current or {"lat": 21.0, "lon": 105.8}
            yield m("no lat", "required", {"lon": point["lon"]}, ".lat")
            yield m("lat out of range", "range", {**point, "lat": 90.5}, ".lat")
            yield m("lon out of range", "range", {**point, "lon": -181}, ".lon")
            yield m("unknown key", "unknown_field", {**point, "height": 1}, ".height")
        if f.type == "repeat":
            groups = list(current or [])
            few = groups[: int(f.min or 0) - 1]
            if f.min and (few or f.required):
                yield m("too few", "min_items" if few else "required", few)
            if f.max is not None and groups:
                yield m(
                    "too many", "max_items", groups + groups[:1] * (int(f.max) + 1 - len(groups))
                )
            for i, group in enumerate(groups):
                yield from mutations(f.fields or [], group, f"{here}[{i}]", [*at, f.name, i], True)


DELETE = object()


def points_into(error_path: str, path: str) -> bool:
    return error_path == path or error_path.startswith((path + ".", path + "["))


@given(forms_with_data(), st.data())
def test_a_single_mutation_is_rejected_at_its_path(
    case: tuple[FormDef, bool, dict[str, Any]], data: st.DataObject
) -> None:
    form, creating, item = case
    choices = list(mutations(form.fields, item, "", [], creating))
    mutation = data.draw(st.sampled_from(choices), label="mutation")
    broken = copy.deepcopy(item)
    mutation.apply(broken)
    _, errors = compile_form(form, 1)(broken, creating=creating)
    found = [(e.path, e.code) for e in errors]
    assert errors, mutation.what
    assert all(points_into(e.path, mutation.field) for e in errors), (mutation.what, found)
    assert (mutation.path, mutation.code) in found, (mutation.what, found)


# --- (c) NFC --------------------------------------------------------------------------------


@given(forms_with_data(), st.data())
def test_nfd_input_validates_like_nfc_input(
    case: tuple[FormDef, bool, dict[str, Any]], data: st.DataObject
) -> None:
    form, creating, item = case
    if data.draw(st.booleans(), label="mutate"):
        mutation = data.draw(st.sampled_from(list(mutations(form.fields, item, "", [], creating))))
        item = copy.deepcopy(item)
        mutation.apply(item)
    validate = compile_form(form, 1)
    as_nfc = validate(normalised(item, "NFC"), creating=creating)
    as_nfd = validate(normalised(item, "NFD"), creating=creating)
    as_given = validate(item, creating=creating)
    assert as_nfd == as_nfc
    assert as_given == as_nfc


@given(forms_with_data())
def test_normalisation_is_idempotent(case: tuple[FormDef, bool, dict[str, Any]]) -> None:
    form, creating, item = case
    validate = compile_form(form, 1)
    once, errors = validate(normalised(item, "NFD"), creating=creating)
    assert errors == []
    twice, errors = validate(once, creating=creating)
    assert errors == []
    assert twice == once == normalised(once, "NFC")


@given(forms_with_data())
def test_validated_data_is_the_data_read_back(case: tuple[FormDef, bool, dict[str, Any]]) -> None:
    """A push merges what it just validated without decoding the stored row again, so the
    validated data must be what the store gives back: the same values, and the same key order
    inside every field (the record's JSON is written in that order; merging sorts the fields)."""
    form, creating, item = case
    out, errors = compile_form(form, 1)(item, creating=creating)
    assert errors == []
    stored = msgspec.json.Encoder(order="sorted").encode(out)  # as server/item.py stores it
    read_back = msgspec.json.decode(stored)
    assert read_back == out
    assert msgspec.json.encode(read_back) == msgspec.json.encode(dict(sorted(out.items())))


@given(st.text(letters))
def test_nfc_is_idempotent_on_any_text(text: str) -> None:
    assert nfc(nfc(text)) == nfc(text) == nfc(unicodedata.normalize("NFD", text))
