"""The phone's checks (client_forms/validate.js, run in Chromium) and the server's
(server/validate.py) agree on what they accept: a value the app lets an officer save must not
be refused at the next sync, and one the app refuses must not be one the server takes. Edge
values of every kind: dates of the first century, times past their range, leap seconds,
offsets, numbers past 2**53, blanks made of invisible characters, empty optional lists."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import msgspec
import pytest
from playwright.sync_api import Browser, Page

from server.app import ROOT
from server.forms import parse_definition
from server.validate import compile_form
from tests.browser.conftest import page_at

ORIGIN = "http://validate.test"
L = {"vi": "Nhãn", "en": "Label"}
FIELDS = [
    {"name": "ngay", "type": "date", "label": L},
    {"name": "luc", "type": "datetime", "label": L},
    {"name": "so", "type": "integer", "label": L},
    {"name": "thuc", "type": "decimal", "label": L},
    {"name": "ten", "type": "text", "label": L, "required": True},
    {
        "name": "chon",
        "type": "select_multiple",
        "label": L,
        "min": 2,
        "choices": [{"value": v, "label": L} for v in ("a", "b", "c")],
    },
    {
        "name": "nhom",
        "type": "repeat",
        "label": L,
        "min": 2,
        "fields": [{"name": "ho_ten", "type": "text", "label": L}],
    },
    # (these six and the lists' duplicates: a test audit found the phone's checks of them
    # held by no agreement test)
    {"name": "mot", "type": "select_one", "label": L, "choices": [{"value": "a", "label": L}]},
    {"name": "vt", "type": "geopoint", "label": L},
    {"name": "ma", "type": "text", "label": L, "pattern": "^[0-9]{3}$"},
    {"name": "ngan", "type": "text", "label": L, "max_length": 5},
    {"name": "tuoi", "type": "integer", "label": L, "min": 0, "max": 120},
    {"name": "ty_le", "type": "decimal", "label": L, "min": 0.5, "max": 10},
]
CASES: list[tuple[str, Any]] = [
    *(
        ("ngay", v)
        for v in [
            "2024-02-29", "2023-02-29", "0001-01-01", "0050-06-15", "0099-12-31", "0000-01-01",
            "9999-12-31", "2025-13-01", "2025-00-10", "2025-1-01", "20250101",
        ]
    ),
    *(
        ("luc", v)
        for v in [
            "2025-08-01T10:00:00+07:00", "2025-08-01t10:00:00z", "2025-08-01 10:00:00Z",
            "2025-08-01T10:00:00.123456789Z", "2025-08-01T24:00:00Z", "2025-08-01T25:00:00Z",
            "2025-08-01T23:60:00Z", "2016-12-31T23:59:60Z", "2025-08-01T10:00:00+24:00",
            "2025-08-01T10:00:00+23:59", "2025-08-01T10:00:00-00:00", "0001-01-01T00:00:00+01:00",
            "0050-01-01T00:00:00Z", "2025-02-29T00:00:00Z", "2025-08-01T10:00:00",
            "2025-08-01T10:00Z", "2025-08-01T10:00:00+0700",
        ]
    ),
    *(
        ("so", v)
        for v in [0, 5.0, 2**53 - 1, 2**53, -(2**53), 1e16, 9007199254740991.0, 1.5, -0.0]
    ),
    *(("thuc", v) for v in [2.5, 1e16, -1e300, 2**53 - 1, 2**53, 1e-300]),
    *(
        ("ten", v)
        for v in [" ", "\u200b", "\ufeff", "\u00ad", "\u3000\u2060", "a", " a ", "\x85", "\x1c"]
    ),
    # optional lists with a min: none is no answer; one is too few
    *(("chon", v) for v in [[], ["a"], ["a", "b"]]),
    *(("nhom", v) for v in [[], [{"ho_ten": "An"}], [{"ho_ten": "An"}, {}]]),
    *(("chon", v) for v in [["a", "a"], ["a", "b", "b"], ["a", "d"], ["b", "a"]]),
    *(("mot", v) for v in ["a", "b", "", "A", None]),
    *(
        ("vt", v)
        for v in [
            {"lat": 21.03, "lon": 105.85}, {"lat": 90, "lon": 180}, {"lat": -90, "lon": -180},
            {"lat": 90.5, "lon": 0}, {"lat": 0, "lon": -180.5}, {"lat": 10},
            {"lat": "10", "lon": 5}, {"lat": 10, "lon": 10, "alt": 12.5, "accuracy": 3},
            {"lat": 10, "lon": 10, "accuracy": -1}, {"lat": 10, "lon": 10, "x": 1},
        ]
    ),
    *(("ma", v) for v in ["123", "12a", "1234", "\uff11\uff12\uff13", "123\n", ""]),
    *(("ngan", v) for v in ["abcde", "abcdef", "Huế12", "Huế123", "😀😀😀😀😀"]),
    *(("tuoi", v) for v in [0, 120, 121, -1, 120.0, 60.5, ""]),
    *((name, "") for name in ("ngay", "luc", "thuc", "ten")),
    *(("ty_le", v) for v in [0.5, 0.49, 10, 10.01, 5]),
]  # fmt: skip


@pytest.fixture
def js(browser: Browser) -> Iterator[Page]:
    source = (ROOT / "client_forms" / "validate.js").read_text("utf-8")
    with page_at(browser, ORIGIN, {"/validate.js": source}) as page:
        yield page


@pytest.mark.browser
def test_the_phone_and_the_server_accept_the_same_values(js: Page) -> None:
    form = parse_definition({"form_id": "dong_y", "title": L, "fields": FIELDS})
    server = compile_form(form, 1)
    fields = msgspec.to_builtins(form.fields)
    wire = [[name, msgspec.json.encode(value).decode()] for name, value in CASES]
    phone = js.evaluate(
        """async ([fields, cases]) => {
          const { validate } = await import('/validate.js');
          // the errors at the field given (an edit's way: the others are not sent)
          const at = (name, e) =>
            e.path === name || e.path.startsWith(name + '.') || e.path.startsWith(name + '[');
          return cases.map(([name, text]) =>
            !validate(fields, { [name]: JSON.parse(text) }).some((e) => at(name, e)));
        }""",
        [fields, wire],
    )
    disagree = []
    for (name, value), on_phone in zip(CASES, phone, strict=True):
        _, errors = server({name: value}, creating=False)
        if (not errors) != on_phone:
            disagree.append((name, value, "phone" if on_phone else "server", errors))
    assert not disagree, disagree


@pytest.mark.browser
def test_a_value_of_the_wrong_type_gets_the_one_error_the_server_gives(js: Page) -> None:
    """ "1.965" typed in a year (the Vietnamese thousands separator) is `type` on both sides,
    and nothing more: the phone also said it was below the minimum, comparing it as 1.965."""
    fields = [
        {"name": "nam", "type": "integer", "min": 1900, "max": 2026, "label": L},
        {"name": "ty_le", "type": "decimal", "min": 10, "label": L},
        {"name": "ten", "type": "text", "max_length": 3, "pattern": "^[a-z]+$", "label": L},
        {"name": "ngay", "type": "date", "label": L},
    ]
    cases: list[tuple[str, Any]] = [
        ("nam", "1.965"), ("nam", "2.025"), ("nam", "1965"), ("nam", True), ("nam", 1.5),
        ("ty_le", "5"), ("ty_le", [5]), ("ten", 12345), ("ten", ["abcd"]), ("ngay", 20250101),
    ]  # fmt: skip
    form = parse_definition({"form_id": "sai_kieu", "title": L, "fields": fields})
    server = compile_form(form, 1)
    phone = js.evaluate(
        """async ([fields, cases]) => {
          const { validate } = await import('/validate.js');
          return cases.map(([name, text]) =>
            validate(fields, { [name]: JSON.parse(text) }).map((e) => e.code));
        }""",
        [
            msgspec.to_builtins(form.fields),
            [[n, msgspec.json.encode(v).decode()] for n, v in cases],
        ],
    )
    for (name, value), codes in zip(cases, phone, strict=True):
        _, errors = server({name: value}, creating=False)
        assert codes == [e.code for e in errors] == ["type"], (name, value, codes, errors)


@pytest.mark.browser
def test_a_number_past_2_53_and_past_the_fields_bound_names_the_bound(js: Page) -> None:
    """9999999999999999999 typed in a score out of 10 said "Out of range" with no bound on the
    phone, where 11 says "Must be at most 10" (found by a probe): the bound the officer can
    act on is named. Past 2**53 with no bound of the field's, `range` as the server says."""
    fields = [
        {"name": "diem", "type": "integer", "min": 0, "max": 10, "label": L},
        {"name": "so", "type": "integer", "label": L},
    ]
    codes = js.evaluate(
        """async (fields) => {
          const { validate } = await import('/validate.js');
          return ['9999999999999999999', '-9999999999999999999'].flatMap((text) =>
            ['diem', 'so'].map((name) =>
              validate(fields, { [name]: JSON.parse(text) }).map((e) => [e.code, e.limit])));
        }""",
        fields,
    )
    assert codes == [[["max", 10]], [["range", None]], [["min", 0]], [["range", None]]]
