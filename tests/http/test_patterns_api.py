"""Text patterns over HTTP: publishing refuses, with problem+json and a path, a pattern the
phone's JavaScript cannot compile or that can take exponential time; JavaScript's own syntax
is published and enforced as the phone enforces it, and one too large written out is refused; a
slow pattern that got in before these checks costs a push item 50 ms, not the server."""

from __future__ import annotations

import time
from typing import Any

import msgspec

from server.forms import FormDef
from tests.support import assert_problem, submission

FORMS = "/api/v1/forms"
LABEL = {"vi": "Nhãn", "en": "Label"}


def form(form_id: str, **patterns: str) -> dict[str, Any]:
    fields = [
        {"name": name, "type": "text", "label": LABEL, "pattern": pattern}
        for name, pattern in patterns.items()
    ]
    return {"form_id": form_id, "title": LABEL, "fields": fields}


def publish(api: Any, body: dict[str, Any]) -> Any:
    return api.client.post(FORMS, json=body, headers=api.auth("admin"))


def test_a_pattern_that_can_take_exponential_time_is_refused_at_publish(api: Any) -> None:
    start = time.monotonic()
    r = publish(api, form("ten_nguoi", ma=r"^[0-9]+$", ten=r"^([A-Za-z]+\s?)+$"))
    assert time.monotonic() - start < 10
    body = assert_problem(r, 422)
    [error] = body["errors"]
    assert (error["path"], error["code"]) == ("fields[1].pattern", "slow")
    assert "exponential time" in error["message"] and "aaaa" in error["message"]


def test_python_syntax_is_refused_at_publish_each_with_its_path(api: Any) -> None:
    r = publish(
        api,
        form("cu_phap", ma="(?i)^hn[0-9]+$", so="^[0-9]{,3}$", k=r"\Aab\Z", t=r"(?P<x>a)", p="a*+"),
    )
    errors = assert_problem(r, 422)["errors"]
    assert [(e["path"], e["code"]) for e in errors] == [
        (f"fields[{i}].pattern", "invalid") for i in range(5)
    ]
    assert "at character 1: " in errors[0]["message"]


def test_javascript_syntax_is_published_and_enforced_as_on_the_phone(api: Any) -> None:
    r = publish(
        api,
        form(
            "cu_phap_js",
            ten=r"^\p{L}+( \p{L}+)*$",
            so=r"^(?<so>[0-9]+)$",
            mat=r"^\u{1F600}$",
            ho_ten=r"^[A-Za-zÀ-ỹ\s]+$",
        ),
    )
    assert r.status_code == 201, r.text
    good = {"ten": "Nguyễn Văn An", "so": "12", "mat": "😀", "ho_ten": "Nguyễn\u00a0Văn An"}
    bad = {"ten": "Nguyễn  An", "so": "1a", "mat": "😀😀", "ho_ten": "Trần\u3000Bình!"}
    results = api.push("officer", [submission("cu_phap_js", d, version=1) for d in (good, bad)])
    assert results[0]["status"] == "accepted", results[0]
    assert results[1]["status"] == "rejected"
    assert sorted((e["path"], e["code"]) for e in results[1]["errors"]) == [
        (f"submissions[1].data.{name}", "pattern") for name in ("ho_ten", "mat", "so", "ten")
    ]


def test_a_pattern_too_large_written_out_is_refused_at_publish(api: Any) -> None:
    """Nested counts multiply as the regex module compiles them: (?:(?:a{1000}){1000}){1000}
    grew the server to 24 GB. Refused, each with its path, before anything is compiled."""
    r = publish(
        api,
        form(
            "lon",
            ok=r"^(?:[0-9]{3}-){2}[0-9]{4}$",
            so=r"^(?:a{100}){100}$",
            ma=r"(?:(?:a{1000}){1000}){1000}",
        ),
    )
    errors = assert_problem(r, 422)["errors"]
    assert [(e["path"], e["code"]) for e in errors] == [
        ("fields[1].pattern", "too_large"),
        ("fields[2].pattern", "too_large"),
    ]
    assert "mẫu quá lớn" in errors[0]["message"]
    assert "its counts make 10,000 characters, above 5,000" in errors[0]["message"]
    assert api.client.get("/healthz").status_code == 200


def test_a_slow_pattern_published_before_costs_its_items_a_timeout_not_the_server(
    api: Any,
) -> None:
    """Published by an older coso, before patterns were probed: each slow item of a push is
    refused with pattern_timeout on its own path, the others go through, and a push of
    hundreds of slow values still answers in seconds (after one times out, each gets 2 ms)."""
    old = msgspec.convert(form("cu", ten=r"^(a|a)+(b|b)+$"), FormDef)
    api.catalog.publish(old, None, "older coso")
    slow_value = "a" * 40 + "!"
    items = [submission("cu", {"ten": t}, version=1) for t in [slow_value] * 300 + ["aab"]]
    start = time.monotonic()
    results = api.push("officer", items)
    assert time.monotonic() - start < 10
    assert {r["status"] for r in results[:-1]} == {"rejected"}
    assert [(e["path"], e["code"]) for e in results[0]["errors"]] == [
        ("submissions[0].data.ten", "pattern_timeout")
    ]
    assert results[-1]["status"] == "accepted"
