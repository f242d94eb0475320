"""Form definitions: every checking rule with its exact error path, the canonical hash,
and evolution between versions (PROTOCOL.md, "Form definitions")."""

from __future__ import annotations

import copy
import hashlib
import json
import unicodedata
from pathlib import Path
from typing import Any

import pytest
import yaml

from server.form_source import DefinitionError, read_source
from server.forms import Field, FormDef, canonical, parse_definition, sha256, walk
from server.protocol import Label

SCHEMAS = sorted((Path(__file__).parents[2] / "schemas").glob("*.yaml"))
L = {"vi": "Nhãn", "en": "Label"}


def field(name: str, type_: str = "text", **options: Any) -> dict[str, Any]:
    return {"name": name, "type": type_, "label": L, **options}


def form(*fields: dict[str, Any], **top: Any) -> dict[str, Any]:
    return {"form_id": "thu_nghiem", "title": L, "fields": list(fields), **top}


CHOICES = [{"value": "a", "label": L}, {"value": "b", "label": L}]


def problems(source: Any) -> list[tuple[str, str]]:
    """(path, code) of every problem parse_definition finds, in its order."""
    with pytest.raises(DefinitionError) as info:
        parse_definition(source)
    assert str(info.value)  # the exception's text lists them too
    return [(e.path, e.code) for e in info.value.errors]


# --- one rule at a time ---------------------------------------------------------------------


def test_a_minimal_definition_parses() -> None:
    parsed = parse_definition(form(field("ghi_chu")))
    assert parsed.form_id == "thu_nghiem"
    assert [f.name for f in parsed.fields] == ["ghi_chu"]
    assert parsed.sync_to_devices is False


@pytest.mark.parametrize(
    "form_id", ["A", "a", "Hoa_giai", "1abc", "hoa-giai", "hoa giai", "x" * 65, "", "_ab"]
)
def test_bad_form_id(form_id: str) -> None:
    assert problems(form(field("a"), form_id=form_id)) == [("form_id", "pattern")]


@pytest.mark.parametrize("form_id", ["ab", "hoa_giai", "a" + "0" * 63])
def test_good_form_id(form_id: str) -> None:
    assert parse_definition(form(field("a"), form_id=form_id)).form_id == form_id


def test_form_id_of_the_wrong_type() -> None:
    assert problems(form(field("a"), form_id=5)) == [("form_id", "type")]


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ({"title": L, "fields": [field("a")]}, [("form_id", "required")]),
        ({"form_id": "ab", "fields": [field("a")]}, [("title", "required")]),
        (form(field("a"), title={"vi": "x"}), [("title.en", "required")]),
        (form(field("a"), title={"vi": "", "en": "x"}), [("title.vi", "required")]),
        (form(field("a"), colour="red"), [("colour", "unknown_field")]),
        (form(field("a"), sync_to_devices="yes"), [("sync_to_devices", "type")]),
    ],
)
def test_form_level_problems(source: dict[str, Any], expected: list[tuple[str, str]]) -> None:
    assert problems(source) == expected


@pytest.mark.parametrize(
    ("fields", "code"), [(None, "required"), ([], "required"), ({}, "type"), ("a", "type")]
)
def test_a_form_needs_a_non_empty_list_of_fields(fields: Any, code: str) -> None:
    """No fields, or an empty list: `required`; anything but a list: `type`, as a value of the
    wrong JSON type is everywhere (README, Error codes)."""
    source = form()
    source["fields"] = fields
    assert problems(source) == [("fields", code)]


@pytest.mark.parametrize("source", [None, [], "form_id: x", 5])
def test_a_definition_is_an_object(source: Any) -> None:
    assert problems(source) == [("", "type")]


@pytest.mark.parametrize(
    ("item", "expected"),
    [
        ("ghi_chu", ("fields[1]", "type")),
        (field("b", colour="red"), ("fields[1].colour", "unknown_field")),
        (field("b", "texte"), ("fields[1].type", "choice")),
        (field("b", required="yes"), ("fields[1].required", "type")),
        (field("b", max_length="10"), ("fields[1].max_length", "type")),
        (field("b", "integer", min=True), ("fields[1].min", "type")),
        (field("b", "integer", min="1"), ("fields[1].min", "type")),
        (field("b", label={"vi": "x"}), ("fields[1].label.en", "required")),
        (
            field("b", label={"vi": "x", "en": "y", "fr": "z"}),
            ("fields[1].label.fr", "unknown_field"),
        ),
        (
            field("b", "select_one", choices=[{"value": "a"}]),
            ("fields[1].choices[0].label", "required"),
        ),
        ({"type": "text", "label": L}, ("fields[1].name", "required")),
        ({"name": "b", "label": L}, ("fields[1].type", "required")),
        (field("b", previous_names="a"), ("fields[1].previous_names", "type")),
    ],
)
def test_wrong_types_and_unknown_keys_in_a_field(item: Any, expected: tuple[str, str]) -> None:
    assert problems(form(field("a"), item)) == [expected]


@pytest.mark.parametrize("name", ["A", "1a", "ho-ten", "ho ten", "họ_tên", "", "a" * 65])
def test_bad_field_name(name: str) -> None:
    assert problems(form(field("a"), field(name))) == [("fields[1].name", "pattern")]


def test_a_name_every_javascript_object_has_is_reserved() -> None:
    """`constructor` spells a field name, and every object on the phone has one: the app read
    Object's function as the field (the form would not open) and saved it as the value."""
    assert problems(form(field("constructor"))) == [("fields[0].name", "reserved")]
    inside = form(field("g", "repeat", fields=[field("constructor", "integer")]))
    assert problems(inside) == [("fields[0].fields[0].name", "reserved")]
    renamed = form(field("moi", previous_names=["constructor"]))
    assert problems(renamed) == [("fields[0].previous_names[0]", "reserved")]
    fine = parse_definition(form(field("constructor_id"), field("ten_constructor")))
    assert [f.name for f in fine.fields] == ["constructor_id", "ten_constructor"]


def test_duplicate_field_names() -> None:
    assert problems(form(field("a"), field("b"), field("a", "integer"))) == [
        ("fields[2].name", "duplicate")
    ]


def test_a_name_may_not_collide_with_a_previous_name() -> None:
    source = form(field("moi", previous_names=["cu"]), field("cu"))
    assert problems(source) == [("fields[1].name", "duplicate")]
    with pytest.raises(DefinitionError) as info:
        parse_definition(source)
    # it says where, as a previous name (it said "'cu' is already used by fields[0]", a field
    # whose name is `moi`: found by a probe)
    assert info.value.errors[0].message == (
        "Tên 'cu' đã dùng ở fields[0].previous_names[0] (là tên cũ của trường đó) / "
        "'cu' is already used by fields[0].previous_names[0] (as that field's previous name)"
    )


def test_a_previous_name_may_not_collide_with_a_name() -> None:
    source = form(field("cu"), field("moi", previous_names=["khac", "cu"]))
    assert problems(source) == [("fields[1].previous_names[1]", "duplicate")]


def test_two_fields_may_not_claim_the_same_previous_name() -> None:
    source = form(field("a", previous_names=["cu"]), field("b", previous_names=["cu"]))
    assert problems(source) == [("fields[1].previous_names[0]", "duplicate")]


def test_a_previous_name_must_be_a_valid_name() -> None:
    source = form(field("a", previous_names=["Cu"]))
    assert problems(source) == [("fields[0].previous_names[0]", "pattern")]


def test_names_are_unique_per_level_not_across_repeat_groups() -> None:
    source = form(field("ho_ten"), field("cac_ben", "repeat", fields=[field("ho_ten")]))
    assert [f.name for f in parse_definition(source).fields] == ["ho_ten", "cac_ben"]


def test_duplicate_names_inside_a_repeat() -> None:
    source = form(field("cac_ben", "repeat", fields=[field("a"), field("b"), field("a")]))
    assert problems(source) == [("fields[0].fields[2].name", "duplicate")]


@pytest.mark.parametrize("type_", ["select_one", "select_multiple"])
@pytest.mark.parametrize("choices", [None, []])
def test_a_select_needs_choices(type_: str, choices: Any) -> None:
    options = {} if choices is None else {"choices": choices}
    assert problems(form(field("a", type_, **options))) == [("fields[0].choices", "required")]


def test_duplicate_choice_value() -> None:
    choices = [*CHOICES, {"value": "c", "label": L}, {"value": "a", "label": L}]
    source = form(field("x"), field("y"), field("z"), field("loai", "select_one", choices=choices))
    assert problems(source) == [("fields[3].choices[3].value", "duplicate")]


@pytest.mark.parametrize("value", ["", "có dấu", "a b", "a/b", "x" * 101])
def test_bad_choice_value(value: str) -> None:
    choices = [*CHOICES, {"value": value, "label": L}]
    source = form(field("loai", "select_multiple", choices=choices))
    assert problems(source) == [("fields[0].choices[2].value", "pattern")]


@pytest.mark.parametrize(
    "type_", ["text", "integer", "decimal", "boolean", "date", "datetime", "geopoint"]
)
def test_choices_only_on_selects(type_: str) -> None:
    assert problems(form(field("a", type_, choices=CHOICES))) == [
        ("fields[0].choices", "not_allowed")
    ]


@pytest.mark.parametrize(
    ("type_", "extra"),
    [
        ("integer", {}),
        ("decimal", {}),
        ("select_multiple", {"choices": CHOICES}),
        ("repeat", {"fields": [field("a")]}),
    ],
)
def test_min_above_max(type_: str, extra: dict[str, Any]) -> None:
    assert problems(form(field("a", type_, min=2, max=1, **extra))) == [
        ("fields[0].max", "invalid")
    ]


def test_min_equal_to_max_is_fine() -> None:
    parse_definition(form(field("a", "integer", min=3, max=3)))


def test_decimal_bounds_may_be_fractions_integer_bounds_may_not() -> None:
    parse_definition(form(field("a", "decimal", min=-0.5, max=2.5)))
    assert problems(form(field("a", "integer", min=0.5))) == [("fields[0].min", "invalid")]


@pytest.mark.parametrize("bound", [float("inf"), float("-inf"), float("nan")])
def test_bounds_are_finite(bound: float) -> None:
    # JSON has no inf/nan (the canonical encoding would turn them into null); YAML has .inf.
    assert problems(form(field("a", "decimal", max=bound))) == [("fields[0].max", "invalid")]
    source = read_source(
        "form_id: ab\ntitle: {vi: a, en: b}\nfields:\n"
        "  - {name: a, type: decimal, label: {vi: a, en: b}, min: -.inf}\n"
    )
    assert problems(source) == [("fields[0].min", "invalid")]


def test_a_number_with_an_exponent_is_a_number_in_yaml_as_in_json() -> None:
    """YAML 1.1 (PyYAML) reads `1e6` and `1.5e3` as text, which made `max: 1e6` refused as
    "got str"; YAML 1.2 and JSON read numbers. Quoted, it stays text."""
    source = read_source(
        "form_id: ab\ntitle: {vi: a, en: b}\nfields:\n"
        "  - {name: a, type: decimal, label: {vi: a, en: b}, min: -1.5e3, max: 1e6}\n"
        "  - {name: b, type: text, label: {vi: '1e2', en: b}}\n"
    )
    fields = parse_definition(source).fields
    assert (fields[0].min, fields[0].max) == (-1500, 10**6)
    assert fields[1].label.vi == "1e2"


def test_counts_are_whole_and_not_negative() -> None:
    source = form(
        field("a", "select_multiple", choices=CHOICES, min=-1),
        field("b", "repeat", fields=[field("c")], max=1.5),
    )
    assert problems(source) == [("fields[0].min", "invalid"), ("fields[1].max", "invalid")]


def test_select_multiple_min_above_the_number_of_choices() -> None:
    source = form(field("a", "select_multiple", choices=CHOICES, min=3))
    assert problems(source) == [("fields[0].min", "invalid")]


@pytest.mark.parametrize("type_", ["text", "boolean", "date", "datetime", "geopoint"])
def test_min_max_only_for_numbers_and_counts(type_: str) -> None:
    assert problems(form(field("a", type_, min=1))) == [("fields[0].min", "not_allowed")]


@pytest.mark.parametrize("type_", ["integer", "decimal", "boolean", "date", "geopoint"])
def test_max_length_only_on_text(type_: str) -> None:
    assert problems(form(field("a", type_, max_length=5))) == [("fields[0].max_length", "invalid")]


@pytest.mark.parametrize("max_length", [0, -3])
def test_max_length_is_positive(max_length: int) -> None:
    assert problems(form(field("a", max_length=max_length))) == [
        ("fields[0].max_length", "invalid")
    ]


@pytest.mark.parametrize("pattern", ["[0-9", "(", "a{2,1}", "*"])
def test_bad_pattern(pattern: str) -> None:
    assert problems(form(field("a"), field("b", pattern=pattern))) == [
        ("fields[1].pattern", "invalid")
    ]


def test_pattern_only_on_text() -> None:
    assert problems(form(field("a", "integer", pattern="^[0-9]+$"))) == [
        ("fields[0].pattern", "not_allowed")
    ]


@pytest.mark.parametrize("nested", [None, []])
def test_repeat_without_fields(nested: Any) -> None:
    options = {} if nested is None else {"fields": nested}
    assert problems(form(field("cac_ben", "repeat", **options))) == [
        ("fields[0].fields", "required")
    ]


def test_repeat_fields_must_be_a_list() -> None:
    assert ("fields[0].fields", "type") in problems(form(field("cac_ben", "repeat", fields="x")))


def test_fields_only_on_repeat() -> None:
    assert problems(form(field("a", fields=[field("b")]))) == [("fields[0].fields", "not_allowed")]


def test_problems_inside_nested_repeats_have_full_paths() -> None:
    inner = field("lan", "repeat", fields=[field("ok"), field("ngay", "date", max_length=3)])
    source = form(field("x"), field("cac_ben", "repeat", fields=[field("ho_ten"), inner]))
    assert problems(source) == [("fields[1].fields[1].fields[1].max_length", "invalid")]


@pytest.mark.parametrize(
    ("where", "path"),
    [
        (lambda d, text: d.update(title={"vi": text, "en": "x"}), "title.vi"),
        (
            lambda d, text: d["fields"][0].update(label={"vi": "x", "en": text}),
            "fields[0].label.en",
        ),
        (lambda d, text: d["fields"][0].update(hint={"vi": text, "en": "x"}), "fields[0].hint.vi"),
        (
            lambda d, text: d["fields"][1]["choices"][1].update(label={"vi": "x", "en": text}),
            "fields[1].choices[1].label.en",
        ),
        (
            lambda d, text: d["fields"][2]["fields"][0].update(label={"vi": text, "en": "x"}),
            "fields[2].fields[0].label.vi",
        ),
    ],
    ids=["title", "label", "hint", "choice", "nested"],
)
@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("", "required"),  # was `invalid`, "Expected `str` of length >= 1" (found by a probe)
        ("\u200b", "required"),  # a zero-width space draws nothing
        ("\ufe0f\u034f", "required"),  # nor do a variation selector and a grapheme joiner
        # nor the braille blank, a Hangul filler, a combining mark alone or a private-use
        # sign (passed as labels while refused as user names: the rules were two)
        ("\u2800", "required"),
        ("\u3164 \u2800", "required"),
        ("\u0301", "required"),
        ("\ue000", "required"),
        (" ", "required"),
        ("\u3000\u00a0 ", "required"),
        ("Tên\x00", "control_character"),
        ("Tên\tHọ", "control_character"),
        ("Tên\n", "control_character"),
        ("\x1fx", "control_character"),
        ("Tên\x7f", "control_character"),
        ("Tên \u202egnàh", "control_character"),
        ("\u202aTên", "control_character"),
        ("Tên \u2066x\u2069", "control_character"),
        ("Tên\u0085Họ", "control_character"),
        ("Tên\u2028Họ", "control_character"),
        ("Tên\u200fHọ", "control_character"),
        ("\u061cTên", "control_character"),
    ],
)
def test_labels_need_visible_text_and_nothing_unshown(
    where: Any, path: str, text: str, code: str
) -> None:
    """Officers read labels as they are: only spaces, controls, and bidirectional overrides or
    isolates (text shown in another order than stored) are refused, each at its path."""
    source = copy.deepcopy(
        form(
            field("a"),
            field("loai", "select_one", choices=CHOICES),
            field("nhom", "repeat", fields=[field("b")]),
        )
    )
    where(source, text)
    assert problems(source) == [(path, code)]


def test_labels_with_diacritics_and_inner_spaces_are_fine() -> None:
    label = {"vi": " Họ và tên người được hòa giải ", "en": "Name (family, given)"}
    parse_definition(form(field("a", label=label, hint=label)))


@pytest.mark.parametrize("bound", [2**53, -(2**53), 1e16, -1e300, 10**30])
@pytest.mark.parametrize("type_", ["integer", "decimal"])
def test_bounds_beyond_what_a_phone_holds_exactly_are_refused(type_: str, bound: float) -> None:
    assert problems(form(field("a", type_, max=bound))) == [("fields[0].max", "range")]


def test_bounds_up_to_2_53_minus_1_are_fine() -> None:
    top = 2**53 - 1
    parsed = parse_definition(form(field("a", "integer", min=-top, max=top)))
    assert (parsed.fields[0].min, parsed.fields[0].max) == (-top, top)


def nested(depth: int) -> dict[str, Any]:
    """A form whose one field is `depth` repeat groups inside one another."""
    inner = field("la")
    for level in range(depth, 0, -1):
        inner = field(f"nhom_{level}", "repeat", fields=[inner])
    return form(inner)


def test_repeat_groups_nest_at_most_8_deep() -> None:
    parsed = parse_definition(nested(8))
    assert [name for name, _ in walk(parsed.fields)][-1].count(".") == 8
    ninth = ".".join(["fields[0]"] * 9)
    assert problems(nested(9)) == [(ninth, "too_deep")]
    assert problems(nested(10)) == [(ninth, "too_deep")]


@pytest.mark.parametrize("depth", [40, 250, 2000])
def test_any_depth_of_repeat_groups_is_the_same_error(depth: int) -> None:
    """Far past the limit too: the same error at the ninth group, never a RecursionError."""
    with pytest.raises(DefinitionError) as info:
        parse_definition(nested(depth))
    assert [(e.path, e.code) for e in info.value.errors] == [
        (".".join(["fields[0]"] * 9), "too_deep")
    ]
    assert "at most 8 deep" in info.value.errors[0].message


def test_deeply_nested_values_anywhere_are_refused_with_their_path() -> None:
    deep: Any = "x"
    for _ in range(5000):
        deep = [deep]
    with pytest.raises(DefinitionError) as info:
        parse_definition(form(field("a", label=deep)))
    ((path, code),) = [(e.path, e.code) for e in info.value.errors]
    assert code == "too_deep"
    assert path.startswith("fields[0].label[0][0]")


@pytest.mark.parametrize(
    "text",
    ["a: &a [*a]\n", "a: &a {b: *a}\n", "form_id: ab\nfields: &f [{name: a, fields: *f}]\n"],
    ids=["list", "mapping", "fields"],
)
def test_a_yaml_alias_inside_itself_is_refused(text: str) -> None:
    with pytest.raises(DefinitionError) as info:
        read_source(text, "x.yaml")
    assert [e.code for e in info.value.errors] == ["too_deep"]


def test_yaml_aliases_that_expand_past_a_million_values_are_refused() -> None:
    """A few hundred bytes of YAML ("billion laughs") would take a thousand million values."""
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)]
    with pytest.raises(DefinitionError) as info:
        read_source("\n".join(lines) + "\n", "x.yaml")
    assert [e.code for e in info.value.errors] == ["too_large"]


# --- every problem at once ------------------------------------------------------------------


def test_several_problems_are_reported_at_once() -> None:
    source = form(
        field("ok"),
        field("Bad"),
        field("loai", "select_one"),
        field("so", "integer", min=5, max=1),
        field("ok", "geopoint"),
        field("ghi_chu", "integer", max_length=3, pattern="["),
        field(
            "cac_ben",
            "repeat",
            fields=[field("a", "select_multiple", choices=[*CHOICES, *CHOICES])],
        ),
        field("x", "texte"),
        form_id="Not-An-Id",
    )
    assert sorted(problems(source)) == [
        ("fields[1].name", "pattern"),
        ("fields[2].choices", "required"),
        ("fields[3].max", "invalid"),
        ("fields[4].name", "duplicate"),
        ("fields[5].max_length", "invalid"),
        ("fields[5].pattern", "not_allowed"),
        ("fields[6].fields[0].choices[2].value", "duplicate"),
        ("fields[6].fields[0].choices[3].value", "duplicate"),
        ("fields[7].type", "choice"),
        ("form_id", "pattern"),
    ]


def test_a_broken_field_does_not_hide_the_others() -> None:
    source = form(field("a", colour=1), "b", field("c", "select_one"))
    assert problems(source) == [
        ("fields[0].colour", "unknown_field"),
        ("fields[1]", "type"),
        ("fields[2].choices", "required"),
    ]


def test_a_misspelt_key_does_not_hide_the_other_problems_of_its_field() -> None:
    """msgspec stops at a field's first problem: an unknown key is reported and left aside,
    and the rest of that field is still checked (its name, its label, its choices)."""
    source = form(field("A b", "select_one", colour=1, label={"vi": " ", "en": "x"}))
    source["sub_title"] = "x"
    assert sorted(problems(source)) == [
        ("fields[0].choices", "required"),
        ("fields[0].colour", "unknown_field"),
        ("fields[0].label.vi", "required"),
        ("fields[0].name", "pattern"),
        ("sub_title", "unknown_field"),
    ]


def test_a_broken_repeat_does_not_hide_the_problems_of_its_fields() -> None:
    source = form(field("cac_ben", "repeat", colour=1, fields=[field("a"), field("a", "texte")]))
    assert sorted(problems(source)) == [
        ("fields[0].colour", "unknown_field"),
        ("fields[0].fields[1].type", "choice"),
    ]


def test_a_broken_form_level_key_does_not_hide_field_problems() -> None:
    source = form(field("a", "select_one"), form_id=3)
    assert problems(source) == [("form_id", "type"), ("fields[0].choices", "required")]


# --- reading sources ------------------------------------------------------------------------


def test_read_source_yaml_and_json_give_the_same_data() -> None:
    data = form(field("a", "integer", min=0, max=9, required=True))
    assert read_source(yaml.safe_dump(data, allow_unicode=True), "x.yaml") == data
    assert read_source(json.dumps(data), "x.json") == data
    assert read_source(json.dumps(data).encode(), "") == data


def test_a_byte_order_mark_is_skipped_in_json_as_in_yaml() -> None:
    """Windows editors save UTF-8 with a BOM: `coso forms publish x.json` read such a file as
    not JSON, while the same file as YAML, or POSTed, was published."""
    data = form(field("a"))
    for text, name in [(json.dumps(data), "x.json"), (yaml.safe_dump(data), "x.yaml")]:
        assert read_source("\ufeff" + text, name) == data
        assert read_source(("\ufeff" + text).encode(), name) == data


YAML_FIELD = (
    "form_id: thu\ntitle: {vi: T, en: T}\nfields:\n"
    "  - {name: a, type: %s, label: {vi: A, en: A}%s}\n"
)


@pytest.mark.parametrize(
    ("extra", "path", "got"),
    [
        (", 1: x", "fields[0]", "1"),
        (", yes: x", "fields[0]", "True"),
        (", 2025-01-01: x", "fields[0]", "datetime.date(2025, 1, 1)"),
        (
            ", choices: [{value: a, label: {vi: A, en: A, ~: B}}]",
            "fields[0].choices[0].label",
            "None",
        ),
    ],
)
def test_a_key_yaml_reads_as_no_text_is_refused_at_its_place(
    extra: str, path: str, got: str
) -> None:
    """`yes:` is true to YAML: the error said "not valid YAML or JSON: Only dicts with str-like
    or number-like keys are supported" with no place, and `1:` "Expected `str` - at `key` in
    `$`"."""
    with pytest.raises(DefinitionError) as info:
        parse_definition(read_source(YAML_FIELD % ("select_one", extra), "x.yaml"))
    [error] = info.value.errors
    assert (error.path, error.code) == (path, "type")
    assert f"the key {got} is not text" in error.message
    assert "ngoặc kép" in error.message and "put it in quotes" in error.message


@pytest.mark.parametrize(
    ("value", "got"), [("no", "bool"), ("on", "bool"), ("010", "int"), ("2025-01-01", "date")]
)
def test_a_value_yaml_reads_as_no_text_says_to_quote_it(value: str, got: str) -> None:
    """The Norway problem: `value: no` is false to YAML; "Expected `str`, got `bool`" did not
    say why nor what to do."""
    choices = f", choices: [{{value: {value}, label: {{vi: A, en: A}}}}]"
    assert problems(read_source(YAML_FIELD % ("select_one", choices), "x.yaml")) == [
        ("fields[0].choices[0].value", "type")
    ]
    with pytest.raises(DefinitionError) as info:
        parse_definition(read_source(YAML_FIELD % ("select_one", choices), "x.yaml"))
    message = info.value.errors[0].message
    assert f"expected text, got {got}" in message and "put it in quotes" in message
    assert message.startswith("cần chữ")  # Vietnamese first
    name_on = read_source(YAML_FIELD.replace("name: a", "name: on") % ("text", ""), "x.yaml")
    assert problems(name_on) == [("fields[0].name", "type")]


def test_an_unknown_type_lists_the_types() -> None:
    with pytest.raises(DefinitionError) as info:
        parse_definition(form(field("a", "number")))
    assert "one of: text, integer, decimal" in info.value.errors[0].message


def test_yaml_merge_keys_work_as_in_safe_load() -> None:
    text = (
        "form_id: tieu_chi_thu\n"
        'title: {vi: "Chấm điểm", en: "Scoring"}\n'
        "fields:\n"
        "  - &score {name: tieu_chi_01, type: integer, min: 0, max: 10, required: true,\n"
        '            label: {vi: "Tiêu chí 1", en: "Criterion 1"}}\n'
        '  - {<<: *score, name: tieu_chi_02, label: {vi: "Tiêu chí 2", en: "Criterion 2"}}\n'
        "  - <<: [*score, {hint: {vi: a, en: b}}]\n"
        "    name: tieu_chi_03\n"
    )
    data = read_source(text, "x.yaml")
    assert data == yaml.safe_load(text)
    second, third = data["fields"][1], data["fields"][2]
    assert (second["name"], second["max"], second["label"]["en"]) == (
        "tieu_chi_02",
        10,
        "Criterion 2",
    )
    assert (third["name"], third["hint"], third["label"]["en"]) == (
        "tieu_chi_03",
        {"vi": "a", "en": "b"},
        "Criterion 1",
    )
    assert [f.name for f in parse_definition(data).fields] == [
        "tieu_chi_01",
        "tieu_chi_02",
        "tieu_chi_03",
    ]


@pytest.mark.parametrize(
    ("text", "path"),
    [
        ("x: &a {k: 1}\ny: {<<: *a, k: 2, k: 3}\n", "y.k"),
        ("x: {<<: {k: 1, k: 2}}\n", "x.k"),
        ("x: &a {k: 1, k: 2}\ny: {<<: *a}\n", "x.k"),
        # two merge keys in one mapping: the first's keys silently lost (a regression probe)
        ("x: &a {k: 1}\ny: &b {k: 2}\nz: {<<: *a, <<: *b}\n", "z.<<"),
    ],
    ids=["beside a merge", "inside a merged mapping", "inside an anchor", "two merges"],
)
def test_a_key_written_twice_is_refused_with_merge_keys_too(text: str, path: str) -> None:
    with pytest.raises(DefinitionError) as info:
        read_source(text, "x.yaml")
    found = [(e.path, e.code) for e in info.value.errors if e.code == "duplicate_key"]
    assert found == [(path, "duplicate_key")]  # and what else this is not (a definition)


@pytest.mark.parametrize("json_", [False, True], ids=["yaml", "json"])
def test_every_key_written_twice_is_said_at_its_path_with_the_other_problems(json_: bool) -> None:
    """A key written twice was said with no path (and in JSON no line), one per publish, and
    hid every other problem of the definition (found by a probe)."""
    source = form(
        {**field("a"), "label": L},
        field("tên"),  # a field name with Vietnamese letters: its own problem
        field("g", "repeat", fields=[field("b", max_length=5)]),
    )
    if json_:
        text = json.dumps(source, ensure_ascii=False)
        text = text.replace('"max_length": 5', '"max_length": 5, "max_length": 6')
        text = text.replace('"name": "a"', '"name": "a", "name": "a"')
    else:
        text = (
            "form_id: thu_nghiem\n"
            "title: {vi: Nhãn, en: Label}\n"
            "fields:\n"
            "  - name: a\n"
            "    name: a\n"
            "    type: text\n"
            "    label: {vi: Nhãn, en: Label}\n"
            "  - {name: tên, type: text, label: {vi: Nhãn, en: Label}}\n"
            "  - name: g\n"
            "    type: repeat\n"
            "    label: {vi: Nhãn, en: Label}\n"
            "    fields:\n"
            "      - {name: b, type: text, label: {vi: N, en: L}, max_length: 5, max_length: 6}\n"
        )
    with pytest.raises(DefinitionError) as info:
        read_source(text, "x.json" if json_ else "x.yaml")
    found = [(e.path, e.code) for e in info.value.errors]
    assert found == [
        ("fields[0].name", "duplicate_key"),
        ("fields[2].fields[0].max_length", "duplicate_key"),
        ("fields[1].name", "pattern"),
    ]
    message = info.value.errors[0].message
    assert message.startswith("Khóa 'name' được viết hai lần trong một đối tượng")
    assert ("(dòng " in message and "(line " in message) != json_  # YAML knows the line


@pytest.mark.parametrize(
    ("text", "filename"), [("{not json", "x.json"), ("a: [b", "x.yaml"), ("{'a': ", "")]
)
def test_read_source_syntax_error(text: str, filename: str) -> None:
    with pytest.raises(DefinitionError) as info:
        read_source(text, filename)
    assert [(e.path, e.code) for e in info.value.errors] == [("", "syntax")]
    message = info.value.errors[0].message
    assert "\n" not in message and "<unicode string>" not in message  # one line, says where
    assert "line 1" in message


@pytest.mark.parametrize("path", SCHEMAS, ids=lambda p: p.name)
def test_every_schema_file_parses(path: Path) -> None:
    parsed = parse_definition(read_source(path.read_text(encoding="utf-8"), path.name))
    assert path.name.startswith(parsed.form_id + ".")
    # labels are bilingual, and the file is already NFC so parsing changed no text
    raw = read_source(path.read_text(encoding="utf-8"), path.name)
    assert raw == unicode_form(raw, "NFC")
    for _, f in walk(parsed.fields):
        assert f.label.vi and f.label.en


def test_the_six_forms_are_there() -> None:
    ids = {
        parse_definition(read_source(p.read_text(encoding="utf-8"), p.name)).form_id
        for p in SCHEMAS
    }
    assert ids == {
        "tuyen_truyen",
        "hoa_giai",
        "mo_hinh",
        "danh_gia_tieu_chi",
        "nam_tinh_hinh",
        "khen_thuong",
    }


# --- canonical encoding and hash ------------------------------------------------------------


def unicode_form(value: Any, normal: str) -> Any:
    """Every string in a JSON-like value (keys too) put in Unicode form `normal`."""
    if isinstance(value, str):
        return unicodedata.normalize(normal, value)
    if isinstance(value, list):
        return [unicode_form(v, normal) for v in value]
    if isinstance(value, dict):
        return {unicode_form(k, normal): unicode_form(v, normal) for k, v in value.items()}
    return value


def reversed_keys(value: Any) -> Any:
    if isinstance(value, list):
        return [reversed_keys(v) for v in value]
    if isinstance(value, dict):
        return {k: reversed_keys(value[k]) for k in reversed(list(value))}
    return value


def hoa_giai(version: int) -> dict[str, Any]:
    path = Path(__file__).parents[2] / "schemas" / f"hoa_giai.v{version}.yaml"
    return read_source(path.read_text(encoding="utf-8"), path.name)


def test_same_definition_in_yaml_and_json_has_the_same_hash() -> None:
    data = hoa_giai(2)
    from_yaml = parse_definition(read_source(yaml.safe_dump(data, allow_unicode=True), "a.yaml"))
    from_json = parse_definition(read_source(json.dumps(data, ensure_ascii=True), "a.json"))
    assert canonical(from_yaml) == canonical(from_json)
    assert sha256(from_yaml) == sha256(from_json)


def test_key_order_does_not_change_the_hash() -> None:
    data = hoa_giai(2)
    assert list(reversed_keys(data)) != list(data)
    assert sha256(parse_definition(reversed_keys(data))) == sha256(parse_definition(data))


def test_nfd_labels_give_the_same_hash_as_nfc() -> None:
    data = hoa_giai(2)
    nfd = unicode_form(data, "NFD")
    assert nfd != data  # the Vietnamese labels do decompose
    parsed = parse_definition(nfd)
    assert parsed.title.vi == data["title"]["vi"]
    assert sha256(parsed) == sha256(parse_definition(data))


def test_explicit_defaults_do_not_change_the_hash() -> None:
    bare = form(field("a"))
    explicit = form(field("a", required=False), sync_to_devices=False)
    assert sha256(parse_definition(bare)) == sha256(parse_definition(explicit))


@pytest.mark.parametrize(
    "respell",
    [
        lambda d: d["fields"][0].update(previous_names=[]),
        lambda d: d["fields"][0].update(choices=[]),
        lambda d: d["fields"][0].update(fields=[]),
        lambda d: d["fields"][0].update(hint=None, required=False, pattern=None),
        lambda d: d["fields"][1].update(min=1.0),
        lambda d: d["fields"][2].update(min=0.0, max=3.0),
        lambda d: d["fields"][3]["fields"][0].update(previous_names=[], max=5.0),
        lambda d: d["fields"][4].update(max_length=1000.0),  # was 422 "Expected `int | null`"
    ],
)
def test_spellings_of_the_same_definition_have_the_same_hash(respell: Any) -> None:
    """An empty list is no list and `1.0` is `1`: re-publishing what means the same is a no-op."""
    source = form(
        field("a"),
        field("so", "decimal", min=1, max=10),
        field("chon", "select_multiple", choices=CHOICES, min=0, max=3),
        field("nhom", "repeat", fields=[field("n", "integer", max=5)]),
        field("ghi_chu", max_length=1000),
    )
    respelled = copy.deepcopy(source)
    respell(respelled)
    assert json.dumps(respelled) != json.dumps(source)  # spelled differently
    assert canonical(parse_definition(respelled)) == canonical(parse_definition(source))


def test_the_canonical_form_tidies_a_definition_stored_before_it_did() -> None:
    """A version published with `min: 1.0` or an empty previous_names is hashed as tidy."""
    stored = FormDef(
        "thu_nghiem",
        Label("Nhãn", "Label"),
        [Field("a", "decimal", Label("Nhãn", "Label"), min=1.0, previous_names=[])],
    )
    assert canonical(stored) == canonical(parse_definition(form(field("a", "decimal", min=1))))
    assert stored.fields[0].min == 1.0  # the stored copy is left as it was


def test_the_hash_is_a_sha256_hex_digest_of_sorted_json() -> None:
    parsed = parse_definition(form(field("b"), field("a")))
    digest = sha256(parsed)
    assert digest == hashlib.sha256(canonical(parsed)).hexdigest()  # of what is stored, as is
    assert json.loads(canonical(parsed))["fields"][0]["name"] == "b"  # field order is kept
    text = canonical(parsed).decode()
    assert text.index('"fields"') < text.index('"form_id"') < text.index('"title"')


@pytest.mark.parametrize(
    "change",
    [
        lambda d: d["fields"][2].update(label={"vi": "Loại vụ việc (sửa)", "en": "Type"}),
        lambda d: d["title"].update(en="Another title"),
        lambda d: d["fields"][2]["choices"].reverse(),
        lambda d: d["fields"].reverse(),
        lambda d: d["fields"][0].update(required=False),
        lambda d: d.update(sync_to_devices=False),
        lambda d: d["fields"][1]["fields"][0].update(max_length=201),
    ],
)
def test_a_change_changes_the_hash(change: Any) -> None:
    data = hoa_giai(2)
    changed = copy.deepcopy(data)
    change(changed)
    assert sha256(parse_definition(changed)) != sha256(parse_definition(data))


def test_walk_gives_dotted_paths_in_order() -> None:
    v = parse_definition(
        form(
            field("a"),
            field("r", "repeat", fields=[field("b"), field("s", "repeat", fields=[field("c")])]),
        )
    )
    assert [name for name, _ in walk(v.fields)] == ["a", "r", "r.b", "r.s", "r.s.c"]


def test_a_misspelt_key_in_a_label_or_a_choice_hides_nothing_either() -> None:
    source = form(
        field("a", label={"vi": "a", "en": "a", "zz": "q"}, max_length=0),
        field(
            "b",
            "select_one",
            hint={"vi": "a", "en": "b", "zz": 1},
            choices=[
                {"value": "x", "label": {"vi": "x", "en": "x", "fr": "x"}, "bogus": 1},
                {"value": "x", "label": {"vi": "y", "en": "y"}},
            ],
        ),
    )
    assert sorted(problems(source)) == [
        ("fields[0].label.zz", "unknown_field"),
        ("fields[0].max_length", "invalid"),
        ("fields[1].choices[0].bogus", "unknown_field"),
        ("fields[1].choices[0].label.fr", "unknown_field"),
        ("fields[1].choices[1].value", "duplicate"),
        ("fields[1].hint.zz", "unknown_field"),
    ]


def test_every_choice_that_is_not_text_is_said_in_one_go() -> None:
    """`no`, `~`, `1.0` and a date unquoted in four choices came out one publish at a time
    (msgspec stops at a field's first problem: found by a probe); a choice's label is checked
    apart from its value, and the field's other problems (an empty label, a value with a
    space) and other fields' are said with them, each at its path, with YAML's reading of
    `~`."""
    from server.form_source import read_source

    source = read_source(
        "form_id: thu\ntitle: {vi: Thử, en: Test}\nfields:\n"
        '  - name: a\n    type: select_one\n    label: {vi: "", en: A}\n'  # empty: required
        "    choices:\n"
        "      - {value: no, label: {vi: Không, en: No}}\n"
        "      - {value: ~, label: {vi: Trống, en: Empty}}\n"
        "      - {value: a b, label: {vi: Được, en: OK}}\n"  # a space: pattern
        "      - {value: 1.0, label: {vi: Một, en: One}}\n"
        "      - {value: 2024-01-01, label: {vi: Ngày, en: Date}}\n"
        "  - {name: b, type: text, label: {vi: B, en: B}, mau: 1}\n"
    )
    with pytest.raises(DefinitionError) as info:
        parse_definition(source)
    found = [(e.path, e.code) for e in info.value.errors]
    assert found == [
        ("fields[0].choices[0].value", "type"),
        ("fields[0].choices[0].label.en", "type"),  # `No` unquoted is false too
        ("fields[0].choices[1].value", "type"),
        ("fields[0].choices[3].value", "type"),
        ("fields[0].choices[4].value", "type"),
        ("fields[1].mau", "unknown_field"),
        ("fields[0].label.vi", "required"),  # the field is still checked (found by a probe)
        ("fields[0].choices[2].value", "pattern"),
    ]
    null = info.value.errors[2].message
    assert "rỗng (null, ~)" in null and "null (null, ~)" in null and "quotes" in null


def test_every_problem_of_one_object_is_said_at_once() -> None:
    """msgspec stops at an object's first problem: a title with two numbers, a field with a
    wrong label, `required` and `max_length`, a label missing one language and a hint the
    other came out one publish at a time (found by a probe)."""
    bad = {**field("a", required="x", max_length="y"), "label": {"vi": 1, "en": 2}}
    assert sorted(problems(form(bad, title={"vi": 5, "en": 6}))) == [
        ("fields[0].label.en", "type"),
        ("fields[0].label.vi", "type"),
        ("fields[0].max_length", "type"),
        ("fields[0].required", "type"),
        ("title.en", "type"),
        ("title.vi", "type"),
    ]
    halves = {**field("a"), "label": {"vi": "x"}, "hint": {"en": "y"}}
    assert problems(form(halves)) == [
        ("fields[0].label.en", "required"),
        ("fields[0].hint.vi", "required"),
    ]
    choice = {"value": "a", "label": {"vi": 1, "en": 2}}
    assert problems(form(field("a", "select_one", choices=[choice]))) == [
        ("fields[0].choices[0].label.vi", "type"),
        ("fields[0].choices[0].label.en", "type"),
    ]
    # a refused choice's blank label half is said once, beside its value's problem
    refused = {"value": 7, "label": {"vi": " ", "en": "Seven"}, "zz": 1}
    assert sorted(problems(form(field("a", "select_one", choices=[refused])))) == [
        ("fields[0].choices[0].label.vi", "required"),
        ("fields[0].choices[0].value", "type"),
        ("fields[0].choices[0].zz", "unknown_field"),
    ]
    nameless = {"type": "texx", "min": "z"}
    assert problems(form(nameless, form_id=5, sync_to_devices="x")) == [
        ("form_id", "type"),
        ("sync_to_devices", "type"),
        ("fields[0].name", "required"),
        ("fields[0].type", "choice"),
        ("fields[0].label", "required"),
        ("fields[0].min", "type"),
    ]


def test_a_number_where_text_belongs_in_json_is_told_plainly() -> None:
    """A JSON definition has no quoting trap: the message says what was expected and what
    came first, and the YAML advice only as YAML's (a probe read "put it in quotes, e.g.
    value: "no"" on a JSON label)."""
    with pytest.raises(DefinitionError) as info:
        parse_definition(form(field("a"), title={"vi": 5, "en": "B"}))
    [error] = info.value.errors
    assert error.path == "title.vi"
    assert error.message.startswith("cần chữ, nhận được một số")
    assert "expected text, got int (YAML reads" in error.message
    assert "value:" not in error.message


@pytest.mark.parametrize(
    ("source", "said"),
    [
        (  # an unknown key beside a wrong type, in the title
            form(field("a"), title={"vi": 5, "en": "b", "zz": 1}),
            [("title.zz", "unknown_field"), ("title.vi", "type")],
        ),
        (  # a blank half beside a wrong one
            form({**field("a"), "label": {"vi": " ", "en": 5}}),
            [("fields[0].label.vi", "required"), ("fields[0].label.en", "type")],
        ),
        (  # a blank hint in a field refused for another key
            form({**field("a", required="y"), "hint": {"vi": " ", "en": "x"}}),
            [("fields[0].hint.vi", "required"), ("fields[0].required", "type")],
        ),
        (  # every choice that is not one
            form(field("a", "select_one", choices=[CHOICES[0], 5, CHOICES[1], "x"])),
            [("fields[0].choices[1]", "type"), ("fields[0].choices[3]", "type")],
        ),
        (
            form(field("a", previous_names=[1, "b", None])),
            [("fields[0].previous_names[0]", "type"), ("fields[0].previous_names[2]", "type")],
        ),
        (  # a repeat whose sub-fields are each refused has fields: not "needs its own fields"
            form(field("a", "repeat", fields=[field("b", required="x")])),
            [("fields[0].fields[0].required", "type")],
        ),
    ],
    ids=["title", "label-halves", "hint-beside", "choices", "previous-names", "repeat"],
)
def test_every_problem_is_said_once_at_its_place(source: Any, said: list[tuple[str, str]]) -> None:
    """Found by a probe of the first version of "every problem of one object at once": these
    came one publish at a time, and a repeat got a false error."""
    assert problems(source) == said


@pytest.mark.parametrize(
    "source",
    [
        [],
        form(),
        form(fields={"a": 1}),
        form(field("a"), form_id="Hoa-giai"),
        form(field("A"), field("b", previous_names=["B"]), field("b")),
        form(field("constructor"), 5),
        form(field("r", "repeat", fields=7), field("s", "repeat"), field("t", fields=[field("u")])),
        nested(9),
        form(field("a", label={"vi": "x\x07", "en": "\u2800"})),
        form(field("a", "weird")),  # the Vietnamese named neither the type nor the list
        form(
            field("s", "select_one"),
            field("m", "select_multiple", min=3, choices=[*CHOICES, {"value": "a b", "label": L}]),
            field("d", "select_one", choices=[CHOICES[0], CHOICES[0]]),
            field("t", choices=CHOICES, pattern="x", max_length=0),
            field("i", "integer", min=float("inf"), max=2**60),
            field("n", "date", min=1, max=0),
            field("k", "integer", min=1.5),
            field("p", "decimal", pattern="a"),
            field("r", "repeat", min=-1, fields=[field("x")]),
        ),
    ],
)
def test_what_a_definition_is_refused_for_is_said_in_vietnamese_too(source: Any) -> None:
    """Each of the checks' own messages is a Vietnamese sentence with the English beside it
    (`vi / en`), naming what the English names: an admin reading Vietnamese got only a word
    for the code ("Không hợp lệ / max_length is a positive number, for text fields only").
    msgspec's type and key messages get theirs from the code (errors.bilingual_errors)."""
    with pytest.raises(DefinitionError) as info:
        parse_definition(source)
    own = [e for e in info.value.errors if not e.message.startswith(("Expected", "Object"))]
    assert own
    for e in own:
        vi, slash, en = e.message.partition(" / ")
        assert slash and vi and en, e
        assert not vi.isascii() or vi.startswith(("max ", "min ")), e  # Vietnamese, not English


@pytest.mark.parametrize(
    ("text", "vi", "en"),
    [
        ("form_id: ab\nfields:\n\t- name: a\n", "ở dòng 3, cột 1: có ký tự tab", "indent with"),
        (
            'form_id: ab\npattern: "^TQ-\\d{3}$"\n',
            "ở dòng 2, cột 15: dấu \\ trong chuỗi đặt giữa ngoặc kép: hãy dùng ngoặc đơn",
            "use single quotes",
        ),
        ('form_id: ab\ntitle: {vi: "Tên, en: "x"}\n', "thiếu dấu phẩy hoặc dấu } đóng", "a }"),
        ('{"form_id": "ab",, }', "ở dòng 1, cột 18: tên khóa phải đặt", "Expecting property"),
        ('{"form_id": "ab"\n "title": 1}', "ở dòng 2, cột 2: thiếu dấu phẩy", "a comma is"),
        ("form_id: ab\n".encode("utf-16"), "UTF-16 (“Unicode” của Notepad)", "save it as UTF-8"),
        (b"form_id: Ho\xe0\n", "Tệp không phải văn bản UTF-8 (byte 11)", "save it as UTF-8"),
    ],
    ids=["tab", "escape", "quote", "json", "json-comma", "utf-16", "ansi"],
)
def test_what_does_not_read_is_said_where_and_why_in_both_languages(
    text: str | bytes, vi: str, en: str
) -> None:
    """The Vietnamese said only "Sai cú pháp YAML/JSON" (a syntax error), and a file saved as
    UTF-16 or ANSI was a Python codec message (found by a probe)."""
    with pytest.raises(DefinitionError) as info:
        read_source(text)
    (error,) = info.value.errors
    said_vi, _, said_en = error.message.partition(" / ")
    assert vi in said_vi and en in said_en, error.message
