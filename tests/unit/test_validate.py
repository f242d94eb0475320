"""Submission data validation: every field type, its constraints, and required on create
and edit (PROTOCOL.md, "Form definitions": values in `data`)."""

from __future__ import annotations

import time
import unicodedata
from pathlib import Path
from typing import Any

import msgspec
import pytest

from server.form_source import read_source
from server.forms import FormDef, parse_definition
from server.validate import MAX_ITEMS, Validator, compile_form, instant_ns, rfc3339_ns

L = {"vi": "Nhãn", "en": "Label"}
CHOICES = [{"value": v, "label": L} for v in ("dat_dai", "hon_nhan", "khac")]


def field(name: str, type_: str, **options: Any) -> dict[str, Any]:
    return {"name": name, "type": type_, "label": L, **options}


FORM = parse_definition(
    {
        "form_id": "thu_nghiem",
        "title": L,
        "fields": [
            field("ten", "text", max_length=5),
            field("sdt", "text", pattern="^0[0-9]{9,10}$"),
            field("so_nguoi", "integer", min=0, max=100),
            field("dien_tich", "decimal", min=-1.5, max=10),
            field("giau_ten", "boolean"),
            field("ngay", "date"),
            field("luc", "datetime"),
            field("loai", "select_one", choices=CHOICES),
            field("chu_de", "select_multiple", choices=CHOICES, min=1, max=2),
            field("vi_tri", "geopoint"),
            field("bat_buoc", "text", required=True),
            field("cac_chon", "select_multiple", choices=CHOICES, required=True),
            field(
                "cac_ben",
                "repeat",
                min=1,
                max=3,
                fields=[
                    field("ho_ten", "text", required=True, max_length=10),
                    field("nam_sinh", "integer", min=1900, max=2026),
                ],
            ),
        ],
    }
)
VALIDATE = compile_form(FORM, 1)
MINIMAL = {"bat_buoc": "có", "cac_chon": ["khac"]}


def check(data: dict[str, Any], *, creating: bool = True) -> tuple[dict[str, Any], list[Any]]:
    return VALIDATE({**MINIMAL, **data} if creating else data, creating=creating)


def codes(data: dict[str, Any], *, creating: bool = True) -> list[tuple[str, str]]:
    """(path, code) of every problem in `data` (on top of a minimal valid item)."""
    _, errors = check(data, creating=creating)
    for e in errors:
        assert e.message  # every error explains itself
    return [(e.path, e.code) for e in errors]


def ok(name: str, value: Any) -> None:
    assert codes({name: value}) == [], value


def bad(name: str, value: Any, code: str, path: str | None = None) -> None:
    assert codes({name: value}) == [(path or name, code)], value


def test_a_minimal_item_is_valid() -> None:
    out, errors = VALIDATE(MINIMAL, creating=True)
    assert errors == []
    assert out == MINIMAL
    assert isinstance(VALIDATE, Validator)
    assert (VALIDATE.form_id, VALIDATE.version) == ("thu_nghiem", 1)


@pytest.mark.parametrize("data", [None, [], "x", 3, True])
def test_data_must_be_an_object(data: Any) -> None:
    _, errors = VALIDATE(data, creating=True)
    assert [(e.path, e.code) for e in errors] == [("", "type")]


def test_paths_take_a_prefix() -> None:
    _, errors = VALIDATE({"so_nguoi": "3"}, creating=False, path="submissions[3].data")
    assert [(e.path, e.code) for e in errors] == [("submissions[3].data.so_nguoi", "type")]


# --- text -----------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["", "a", "abcde", "Huế", "😀😀😀😀😀"])
def test_text_valid(value: str) -> None:
    ok("ten", value)


@pytest.mark.parametrize("value", [5, 1.5, True, ["a"], {"a": 1}])
def test_text_wrong_type(value: Any) -> None:
    bad("ten", value, "type")


def test_text_max_length() -> None:
    bad("ten", "abcdef", "max_length")


def test_max_length_is_counted_after_nfc() -> None:
    nfd = unicodedata.normalize("NFD", "Hà Nội")  # 6 characters in NFC, 9 in NFD
    assert len(nfd) == 9
    out, errors = check({"ten": nfd[:5] + nfd[5:]})
    assert [(e.path, e.code) for e in errors] == [("ten", "max_length")]
    out, errors = check({"ten": unicodedata.normalize("NFD", "Hà Nộ")})  # 5 after NFC
    assert errors == []
    assert out["ten"] == "Hà Nộ"
    assert unicodedata.is_normalized("NFC", out["ten"])


def test_text_is_normalised_to_nfc_everywhere() -> None:
    nfd = unicodedata.normalize("NFD", "Nguyễn Thị Ánh")
    out, errors = check({"bat_buoc": nfd, "cac_ben": [{"ho_ten": nfd[:10]}]})
    assert errors == []
    assert out["bat_buoc"] == "Nguyễn Thị Ánh"
    assert unicodedata.is_normalized("NFC", out["cac_ben"][0]["ho_ten"])


@pytest.mark.parametrize("value", ["0912345678", "09123456789", ""])
def test_pattern_match(value: str) -> None:
    ok("sdt", value)  # an empty text is "no value": the pattern does not apply


@pytest.mark.parametrize(
    "value",
    ["912345678", "0912", "0912-345-678", "+84912345678", "a", "0912345678\n", "\uff10912345678"],
)
def test_pattern_miss(value: str) -> None:
    """As the phone's JavaScript tests it: `$` is the very end (not before a final newline)
    and `[0-9]`/`\\d` are ASCII digits."""
    bad("sdt", value, "pattern")


def test_select_multiple_keeps_the_forms_order() -> None:
    """Ticked boxes are a set: kept in the order of the form's choices, so the same boxes
    ticked in another order are the same value (no conflict, a replay is a duplicate)."""
    out, errors = check({"chu_de": ["khac", "dat_dai"]})
    assert errors == [] and out["chu_de"] == ["dat_dai", "khac"]
    out, errors = check({"chu_de": ["khac", "khac"]})  # refused: not reordered either
    assert [(e.path, e.code) for e in errors] == [("chu_de[1]", "duplicate")]


@pytest.mark.parametrize(
    "blank", ["", "   ", "\t\n", "\u3000", "\u200b", " \ufeff\u200b ", "\u00ad", "\u2060\u200d"]
)
def test_a_required_text_of_only_spaces_is_missing(blank: str) -> None:
    """Spaces, and the invisible characters a paste brings (zero-width space, BOM, ...), are
    not an answer; one `required`, nothing else at that path (not also "not a choice")."""
    assert ("bat_buoc", "required") in codes({"bat_buoc": blank})
    ok("ten", "a\u200bb")  # inside a text they are text
    form = parse_definition(
        {
            "form_id": "chon",
            "title": L,
            "fields": [
                field("loai", "select_one", choices=CHOICES, required=True),
                field("sdt", "text", pattern="^0[0-9]{9}$", required=True),
            ],
        }
    )
    _, errors = compile_form(form, 1)({"loai": blank, "sdt": blank}, creating=True)
    assert [(e.path, e.code) for e in errors] == [("loai", "required"), ("sdt", "required")]


def test_a_day_that_is_not_in_the_calendar_says_so() -> None:
    _, errors = check({"ngay": "2023-02-29"})
    assert [(e.path, e.code) for e in errors] == [("ngay", "format")]
    assert "2023-02-29 is not a day of the calendar" in errors[0].message
    ok("ngay", "2024-02-29")


@pytest.mark.parametrize(
    ("key", "path"),
    [
        ("a.b", 'cac_ben[0]["a.b"]'),
        ("m[0]", 'cac_ben[0]["m[0]"]'),
        ("", 'cac_ben[0][""]'),
        ("x y", 'cac_ben[0]["x y"]'),
        ("tên_lạ", "cac_ben[0].tên_lạ"),
    ],
)
def test_an_unknown_key_is_named_by_a_path_that_reads_back_to_it(key: str, path: str) -> None:
    """`data.a.b` would read as field `b` of field `a`: a key a path could misread is quoted."""
    item = {"ho_ten": "An", key: 1}
    assert codes({"cac_ben": [item]}) == [(path, "unknown_field")]
    top = codes({key: 1})
    assert top == [(path.removeprefix("cac_ben[0]").removeprefix("."), "unknown_field")]


def test_text_with_a_nul_is_refused() -> None:
    """U+0000 ends a C string and no PostgreSQL text holds it: refused, with a path, where
    other control characters (tab, newline, ...) are text like any other."""
    bad("bat_buoc", "a\x00b", "control_character")
    ok("bat_buoc", "a\tb\nc\x07")


@pytest.mark.parametrize(
    ("pattern", "value", "matches"),
    [
        (r"^\d{3}$", "123", True),
        (r"^\d{3}$", "١٢٣", False),  # Arabic-Indic digits are not \d in JavaScript
        (r"^a[$]b$", "a$b", True),  # `$` inside a class stays a dollar sign
        (r"^x\$$", "x$", True),  # so does an escaped one
        (r"^x\$$", "x$\n", False),
        (r"^[\]a]+$", "]a", True),  # (`[]a]` is Python's; JavaScript refuses it)
        (r"ab", "xxabxx", True),  # tested anywhere in the value, like RegExp.test
        (r"^\p{L}+( \p{L}+)*$", "Nguyễn Văn An", True),
        (r"^[A-Za-zÀ-ỹ\s]+$", "Nguyễn\u00a0Văn An", True),  # \s holds a no-break space
        (r"^.+$", "a\u2028b", False),  # `.` is no line terminator
    ],
)
def test_patterns_match_like_javascript(pattern: str, value: str, matches: bool) -> None:
    form = parse_definition(
        {"form_id": "mau", "title": L, "fields": [field("t", "text", pattern=pattern)]}
    )
    _, errors = compile_form(form, 1)({"t": value}, creating=True)
    assert (errors == []) is matches, (pattern, value, errors)


def legacy(pattern: str) -> Validator:
    """A form published before patterns were checked at publish: not through
    parse_definition, as the catalogue loads one from the database."""
    form = msgspec.convert(
        {"form_id": "cu", "title": L, "fields": [field("t", "text", pattern=pattern)]}, FormDef
    )
    return compile_form(form, 1)


def test_a_slow_pattern_published_before_times_out_on_its_own_path() -> None:
    start = time.monotonic()
    _, errors = legacy(r"^(a|a)+$")({"t": "a" * 40 + "!"}, creating=True)
    assert time.monotonic() - start < 1
    assert [(e.path, e.code) for e in errors] == [("t", "pattern_timeout")]
    assert " / " in errors[0].message


def test_a_python_pattern_published_before_checks_nothing_as_on_the_phone() -> None:
    """The phone cannot compile `(?i)` either: neither side checks it."""
    assert legacy(r"(?i)^hn[0-9]+$")({"t": "xyz"}, creating=True)[1] == []


# --- integer and decimal --------------------------------------------------------------------


@pytest.mark.parametrize("value", [0, 1, 100, 42])
def test_integer_valid(value: int) -> None:
    ok("so_nguoi", value)


@pytest.mark.parametrize("value", [True, False, 1.5, "3", {"n": 1}, [1], float("inf")])
def test_integer_wrong_type(value: Any) -> None:
    bad("so_nguoi", value, "type")


@pytest.mark.parametrize(("sent", "kept"), [(5.0, 5), (-0.0, 0), (1e1, 10), (5, 5)])
def test_a_whole_number_sent_as_a_float_is_kept_as_the_integer(sent: float, kept: int) -> None:
    """`5.0` (a MessagePack double, a client that writes decimals) is the number 5: an integer
    field takes it, and every number field keeps one spelling of it, so that content sent
    again written otherwise is the same content (a duplicate, not `id_reused`)."""
    for name in ("so_nguoi", "dien_tich"):
        data, errors = check({name: sent})
        assert errors == [] and type(data[name]) is int and data[name] == kept
    data, errors = check({"vi_tri": {"lat": 21.0, "lon": sent}})
    assert errors == [] and data["vi_tri"] == {"lat": 21, "lon": kept}
    assert type(data["vi_tri"]["lat"]) is int
    data, _ = check({"dien_tich": 2.5})
    assert data["dien_tich"] == 2.5  # a fraction stays as it is


@pytest.mark.parametrize(("value", "code"), [(-1, "min"), (101, "max"), (10**30, "range")])
def test_integer_bounds(value: int, code: str) -> None:
    bad("so_nguoi", value, code)


@pytest.mark.parametrize(
    ("value", "accepted"),
    [
        (2**53 - 1, True),
        (-(2**53 - 1), True),
        (2**53, False),
        (-(2**64), False),
        (10**400, False),
        # the same numbers written as floats: one range whatever the spelling
        (float(2**53 - 1), True),
        (9007199254740993.0, False),
        (1e16, False),
        (-1.5e16, False),
        (1e300, False),
    ],
)
def test_numbers_are_kept_only_where_every_reader_holds_them_exactly(
    value: float, accepted: bool
) -> None:
    """Without min/max a number must still fit what a phone's JavaScript, MessagePack and a
    spreadsheet hold exactly as a whole number: ±(2**53 - 1), however it is written (`1e16`
    in an integer field is `range`, as 10000000000000000 is, not a wrong type)."""
    form = parse_definition(
        {
            "form_id": "so",
            "title": L,
            "fields": [field("i", "integer"), field("d", "decimal")],
        }
    )
    validate = compile_form(form, 1)
    for name in ("i", "d"):
        _, errors = validate({name: value}, creating=True)
        assert [(e.path, e.code) for e in errors] == ([] if accepted else [(name, "range")])


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_a_number_that_is_not_finite_is_named_so(value: float) -> None:
    _, errors = check({"dien_tich": value, "vi_tri": {"lat": value, "lon": 1}})
    assert [(e.path, e.code) for e in errors] == [("dien_tich", "type"), ("vi_tri.lat", "type")]
    assert all("not finite" in e.message for e in errors)


@pytest.mark.parametrize("value", [-1.5, 0, 3, 2.25, 10, 10.0, 1e-9])
def test_decimal_valid(value: float) -> None:
    ok("dien_tich", value)


@pytest.mark.parametrize("value", [True, "1.5", float("inf"), float("-inf"), float("nan"), [1.0]])
def test_decimal_wrong_type(value: Any) -> None:
    # NaN cannot come in JSON, but MessagePack and Python callers can send it
    bad("dien_tich", value, "type")


@pytest.mark.parametrize(("value", "code"), [(-1.51, "min"), (-2, "min"), (10.000001, "max")])
def test_decimal_bounds(value: float, code: str) -> None:
    bad("dien_tich", value, code)


# --- boolean, date, datetime ----------------------------------------------------------------


@pytest.mark.parametrize("value", [True, False])
def test_boolean_valid(value: bool) -> None:
    ok("giau_ten", value)


@pytest.mark.parametrize("value", [0, 1, "true", "false", []])
def test_boolean_wrong_type(value: Any) -> None:
    bad("giau_ten", value, "type")


@pytest.mark.parametrize("value", ["2025-07-01", "2024-02-29", "0001-01-01", "9999-12-31"])
def test_date_valid(value: str) -> None:
    ok("ngay", value)


@pytest.mark.parametrize(
    "value",
    [
        "2025-02-30",
        "2025-02-29",
        "2025-13-01",
        "2025-00-10",
        "2025-7-1",
        "25-07-01",
        "01/07/2025",
        "2025-07-01T00:00:00+07:00",
        "2025-07-01 ",
        " 2025-07-01",
        "20250701",
        "\u0662\u0660\u0662\u0665-\u0660\u0667-\u0660\u0661",  # Arabic-Indic digits match \\d
        "",
    ],
)
def test_date_format(value: str) -> None:
    bad("ngay", value, "format")


@pytest.mark.parametrize("value", [20250701, ["2025-07-01"], True])
def test_date_wrong_type(value: Any) -> None:
    bad("ngay", value, "type")


@pytest.mark.parametrize(
    "value",
    [
        "2025-07-01T08:30:00+07:00",
        "2025-07-01T08:30:00Z",
        "2025-07-01t08:30:00z",
        "2025-07-01 08:30:00-03:30",
        "2025-07-01T08:30:00.5+07:00",
        "2025-07-01T08:30:00.123456789+00:00",
        "2024-02-29T23:59:59+14:00",
    ],
)
def test_datetime_valid(value: str) -> None:
    ok("luc", value)


@pytest.mark.parametrize(
    "value",
    [
        "2025-07-01T08:30:00",  # an offset is required
        "2025-07-01",
        "2025-07-01T08:30+07:00",
        "2025-02-30T08:30:00+07:00",
        "2025-07-01T24:00:00Z",
        "2025-07-01T08:60:00Z",
        "2025-07-01T08:30:00+0700",
        "2025-07-01T08:30:00+24:00",
        "2025-07-01T08:30:00+07:60",  # fromisoformat would read +08:00
        "2025-07-01T08:30:00-00:99",
        "2025-07-01T08:30:00.Z",
        "2025-07-01T08:30:00Z trailing",
        "1751333400",
        "",
    ],
)
def test_datetime_format(value: str) -> None:
    bad("luc", value, "format")


@pytest.mark.parametrize("offset", ["+07:60", "-03:75", "+00:99"])
def test_captured_at_offset_minutes_past_59_are_no_time(offset: str) -> None:
    """RFC 3339's offset minutes are 00-59; Python's fromisoformat takes up to 99 and carries
    them into the hour, so `captured_at` would be ordered as another instant."""
    assert rfc3339_ns(f"2026-01-01T00:00:00{offset}") is None
    assert rfc3339_ns("2026-01-01T00:00:00+07:59") is not None


def test_a_stored_time_with_offset_minutes_past_59_is_still_read() -> None:
    """An older coso stored such times: deriving its records must not stop at them."""
    assert instant_ns("2026-01-01T00:00:00+07:60") == instant_ns("2026-01-01T00:00:00+08:00")


@pytest.mark.parametrize("value", [1751333400, 1.5, False])
def test_datetime_wrong_type(value: Any) -> None:
    bad("luc", value, "type")


# --- select_one and select_multiple ---------------------------------------------------------


@pytest.mark.parametrize("value", ["dat_dai", "khac"])
def test_select_one_valid(value: str) -> None:
    ok("loai", value)


@pytest.mark.parametrize("value", ["Dat_dai", "dat dai", "other", ""])
def test_select_one_not_a_choice(value: str) -> None:
    bad("loai", value, "choice")


@pytest.mark.parametrize("value", [1, True, ["dat_dai"], {"value": "dat_dai"}])
def test_select_one_wrong_type(value: Any) -> None:
    bad("loai", value, "type")


@pytest.mark.parametrize("value", [["dat_dai"], ["khac", "dat_dai"]])
def test_select_multiple_valid(value: list[str]) -> None:
    ok("chu_de", value)


def test_select_multiple_not_a_choice_points_at_the_item() -> None:
    bad("chu_de", ["khac", "other"], "choice", "chu_de[1]")


def test_select_multiple_items_are_distinct() -> None:
    bad("chu_de", ["khac", "khac"], "duplicate", "chu_de[1]")


def test_select_multiple_item_of_the_wrong_type() -> None:
    bad("chu_de", ["khac", 3], "type", "chu_de[1]")


@pytest.mark.parametrize("value", ["khac", {"khac": True}, 1])
def test_select_multiple_wrong_type(value: Any) -> None:
    bad("chu_de", value, "type")


def test_select_multiple_counts() -> None:
    bad("chu_de", ["khac", "dat_dai", "hon_nhan"], "max_items")


@pytest.mark.parametrize("name", ["chu_de", "cac_ben"])
def test_none_chosen_of_an_optional_list_is_no_answer_not_too_few(name: str) -> None:
    """`[]` of an optional select_multiple or repeat with a `min` is nothing answered, as the
    phone's check takes it (it saves such a form): `min` bounds an answer given, and a
    required list's `[]` is `required`."""
    assert codes({name: []}) == []
    assert codes({"cac_chon": []}) == [("cac_chon", "required")]


def test_select_multiple_several_problems_at_once() -> None:
    assert codes({"chu_de": ["x", "khac", "khac"]}) == [
        ("chu_de[0]", "choice"),
        ("chu_de[2]", "duplicate"),
        ("chu_de", "max_items"),
    ]


# --- geopoint -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        {"lat": 21.0285, "lon": 105.8542},
        {"lat": 21, "lon": 105, "alt": 12.5, "accuracy": 4},
        {"lat": -90, "lon": 180},
        {"lat": 90, "lon": -180, "alt": -400, "accuracy": 0},
    ],
)
def test_geopoint_valid(value: dict[str, Any]) -> None:
    ok("vi_tri", value)


@pytest.mark.parametrize(
    ("value", "path", "code"),
    [
        ({"lon": 105.8}, "vi_tri.lat", "required"),
        ({"lat": 21.0}, "vi_tri.lon", "required"),
        ({"lat": 91, "lon": 105}, "vi_tri.lat", "range"),
        ({"lat": -90.5, "lon": 105}, "vi_tri.lat", "range"),
        ({"lat": 21, "lon": 180.01}, "vi_tri.lon", "range"),
        ({"lat": 21, "lon": 105, "accuracy": -1}, "vi_tri.accuracy", "range"),
        ({"lat": 21, "lon": 105, "alt": 10**6}, "vi_tri.alt", "range"),
        ({"lat": 21, "lon": 105, "height": 3}, "vi_tri.height", "unknown_field"),
        ({"lat": "21", "lon": 105}, "vi_tri.lat", "type"),
        ({"lat": True, "lon": 105}, "vi_tri.lat", "type"),
        ({"lat": 21, "lon": float("inf")}, "vi_tri.lon", "type"),
        ({"lat": 21, "lon": None}, "vi_tri.lon", "type"),
        ([21, 105], "vi_tri", "type"),
        ("21,105", "vi_tri", "type"),
    ],
)
def test_geopoint_problems(value: Any, path: str, code: str) -> None:
    bad("vi_tri", value, code, path)


def test_geopoint_optional_keys_may_be_null_and_are_then_left_out() -> None:
    value = {"lat": 21.0, "lon": 105.8, "alt": None, "accuracy": None}
    out, errors = check({"vi_tri": value})
    assert errors == []
    assert out["vi_tri"] == {"lat": 21.0, "lon": 105.8}


def test_geopoint_every_problem_at_once() -> None:
    assert sorted(codes({"vi_tri": {"lat": 100, "x": 1}})) == [
        ("vi_tri.lat", "range"),
        ("vi_tri.lon", "required"),
        ("vi_tri.x", "unknown_field"),
    ]


# --- repeat ---------------------------------------------------------------------------------


def test_repeat_valid() -> None:
    ok("cac_ben", [{"ho_ten": "An"}, {"ho_ten": "Bình", "nam_sinh": 1980}])


def test_a_null_sub_field_in_a_group_is_no_value_as_a_missing_one() -> None:
    """Two spellings of one entry would be two values of the group: a spurious conflict."""
    written = [{"ho_ten": "An", "nam_sinh": None}, {"ho_ten": "Bình", "nam_sinh": 1980}]
    left_out = [{"ho_ten": "An"}, {"ho_ten": "Bình", "nam_sinh": 1980}]
    assert check({"cac_ben": written})[0]["cac_ben"] == left_out
    assert check({"cac_ben": left_out})[0]["cac_ben"] == left_out


def test_repeat_nested_errors_have_paths() -> None:
    value = [{"ho_ten": "An"}, {"ho_ten": 5, "nam_sinh": 1800}, {"nam_sinh": None, "x": 1}]
    assert codes({"cac_ben": value}) == [
        ("cac_ben[1].ho_ten", "type"),
        ("cac_ben[1].nam_sinh", "min"),
        ("cac_ben[2].x", "unknown_field"),
        ("cac_ben[2].ho_ten", "required"),
    ]


def test_required_inside_a_repeat_applies_on_edits_too() -> None:
    # a repeat group is one value: an edit sends it whole
    assert codes({"cac_ben": [{"nam_sinh": 1990}]}, creating=False) == [
        ("cac_ben[0].ho_ten", "required")
    ]


def test_repeat_counts() -> None:
    bad("cac_ben", [{"ho_ten": "a"}] * 4, "max_items")


@pytest.mark.parametrize("value", [{"ho_ten": "An"}, "An", [["An"]]])
def test_repeat_wrong_type(value: Any) -> None:
    path = "cac_ben[0]" if isinstance(value, list) else "cac_ben"
    bad("cac_ben", value, "type", path)


def test_repeat_path_in_the_real_hoa_giai_form() -> None:
    path = Path(__file__).parents[2] / "schemas" / "hoa_giai.v2.yaml"
    hoa_giai = compile_form(parse_definition(read_source(path.read_text("utf-8"), path.name)), 2)
    data = {
        "cac_ben": [
            {"ho_ten": "Nguyễn Văn An", "vai_tro": "ben_yeu_cau"},
            {"ho_ten": "", "vai_tro": "ben_con_lai", "so_dien_thoai": "12345"},
        ]
    }
    _, errors = hoa_giai(data, creating=False)
    assert [(e.path, e.code) for e in errors] == [
        ("cac_ben[1].so_dien_thoai", "pattern"),
        ("cac_ben[1].ho_ten", "required"),
    ]


# --- unknown fields, required, null ---------------------------------------------------------


def test_unknown_field() -> None:
    assert codes({"tom_tat": "x", "Ten": "y"}) == [
        ("tom_tat", "unknown_field"),
        ("Ten", "unknown_field"),
    ]


def test_required_on_create() -> None:
    _, errors = VALIDATE({}, creating=True)
    assert [(e.path, e.code) for e in errors] == [
        ("bat_buoc", "required"),
        ("cac_chon", "required"),
    ]


@pytest.mark.parametrize(
    ("name", "empty"), [("bat_buoc", None), ("bat_buoc", ""), ("cac_chon", [])]
)
def test_required_means_not_empty(name: str, empty: Any) -> None:
    assert codes({name: empty}) == [(name, "required")]
    assert codes({name: empty}, creating=False) == [(name, "required")]


def test_an_edit_may_leave_out_a_required_field() -> None:
    assert codes({"so_nguoi": 3}, creating=False) == []
    assert codes({}, creating=False) == []


def test_null_clears_an_optional_field_of_any_type() -> None:
    names = ["ten", "sdt", "so_nguoi", "dien_tich", "giau_ten", "ngay", "luc", "loai"]
    data = dict.fromkeys([*names, "chu_de", "vi_tri", "cac_ben"])
    out, errors = check(data)
    assert errors == []
    assert out == {**MINIMAL, **data}


def test_every_problem_in_an_item_is_reported() -> None:
    found = codes(
        {
            "ten": "quá dài rồi",
            "so_nguoi": -1,
            "ngay": "2025-02-30",
            "loai": "x",
            "bat_buoc": "",
            "khong_co": 1,
        }
    )
    assert sorted(found) == [
        ("bat_buoc", "required"),
        ("khong_co", "unknown_field"),
        ("loai", "choice"),
        ("ngay", "format"),
        ("so_nguoi", "min"),
        ("ten", "max_length"),
    ]


def test_the_output_is_a_new_object_with_the_same_values() -> None:
    data = {**MINIMAL, "so_nguoi": 3, "cac_ben": [{"ho_ten": "An"}]}
    out, errors = VALIDATE(data, creating=True)
    assert errors == []
    assert out == data
    assert out is not data


def test_keys_that_are_not_strings_are_unknown_fields_not_a_crash() -> None:
    # MessagePack maps may have integer keys; nested ones reach the validator as they are
    assert codes({"cac_ben": [{"ho_ten": "An", 1: "x"}], "vi_tri": {"lat": 1, "lon": 2, 3: 4}}) == [
        ("cac_ben[0].1", "unknown_field"),
        ("vi_tri.3", "unknown_field"),
    ]


def test_unknown_names_and_wrong_choices_are_reported_in_nfc() -> None:
    nfd = unicodedata.normalize("NFD", "tên_lạ")
    _, errors = check(
        {nfd: 1, "loai": nfd, "chu_de": [nfd], "vi_tri": {"lat": 1, "lon": 2, nfd: 3}}
    )
    nfc = unicodedata.normalize("NFC", nfd)
    assert sorted(e.path for e in errors) == sorted([nfc, "loai", "chu_de[0]", f"vi_tri.{nfc}"])
    assert all(nfd not in e.message for e in errors)


@pytest.mark.parametrize(
    "digits", ["\uff12\uff10\uff12\uff13", "\u0662\u0660\u0662\u0663"]
)  # fullwidth and Arabic-Indic 2023
def test_dates_and_times_take_ascii_digits_only(digits: str) -> None:
    """Python's \\d and int() read other scripts' digits, the phone's \\d does not: such a
    date is not one, and says so as a wrong format, not as a day missing from the calendar."""
    _, errors = check({"ngay": f"{digits}-01-01", "luc": f"{digits}-01-01T08:00:00+07:00"})
    assert sorted((e.path, e.code) for e in errors) == [("luc", "format"), ("ngay", "format")]
    assert all("calendar" not in e.message for e in errors)
    assert rfc3339_ns(f"{digits}-01-01T08:00:00+07:00") is None


def test_a_repeat_group_with_no_maximum_of_its_own_holds_at_most_10000_items() -> None:
    """A 10 MiB body holds millions of `{}`: a group with no `max` of its own is capped, and
    its items are not read past the cap (a test audit found the cap untested)."""
    form = parse_definition(
        {
            "form_id": "danh_sach",
            "title": L,
            "fields": [field("nguoi", "repeat", fields=[field("ten", "text")])],
        }
    )
    validate = compile_form(form, 1)
    data, errors = validate({"nguoi": [{"ten": "An"}] * MAX_ITEMS}, creating=True)
    assert errors == [] and len(data["nguoi"]) == MAX_ITEMS
    # past the cap: one error for the group, none for its items (they are not read)
    items = [{"ten": 5}] * (MAX_ITEMS + 1)
    _, errors = validate({"nguoi": items}, creating=True)
    assert [(e.path, e.code) for e in errors] == [("nguoi", "max_items")]
