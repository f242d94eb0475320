"""Text patterns over HTTP: publishing refuses, with problem+json and a path, a pattern the
phone's JavaScript cannot compile or that can take exponential time; JavaScript's own syntax
is published and enforced as the phone enforces it, and one too large written out is refused; a
slow pattern that got in before these checks costs a push item 50 ms, not the server."""

from __future__ import annotations

import threading
import time
from typing import Any

import msgspec
import pytest

from server import patterns
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


def slow_form(api: Any, form_id: str, pattern: str) -> None:
    """Published by an older coso, before patterns were probed."""
    old = form(form_id, ten=pattern)
    old["fields"][0]["max_length"] = 100_000
    api.catalog.publish(msgspec.convert(old, FormDef), None, "older coso")


def test_a_valid_value_is_accepted_whatever_another_device_pushed_before(api: Any) -> None:
    """A long valid value (some 4 ms to match, a tenth of the timeout: 10 ms failed once on
    a busy CI machine) right after another device's value timed out on the same pattern: it
    gets the whole timeout, as it would alone."""
    slow_form(api, "cu_ngh", r"^(?:[\p{L} ]|ngh)+$")
    slow = api.push("officer2", [submission("cu_ngh", {"ten": "ngh" * 60 + "!"}, version=1)])
    assert [e["code"] for e in slow[0]["errors"]] == ["pattern_timeout"]
    good = ("Nguyễn Văn Nghĩa " * 2000).strip()
    [result] = api.push("officer", [submission("cu_ngh", {"ten": good}, version=1)])
    assert result["status"] == "accepted", result


def test_a_slow_pattern_published_before_costs_its_own_push_not_the_server(api: Any) -> None:
    """Each slow item of a push is refused with pattern_timeout on its own path (50 ms each)
    and the others go through; meanwhile, since matching lets the GIL go and comes before the
    write lock, /healthz and another device's push answer at once."""
    slow_form(api, "cu", r"^(a|a)+(b|b)+$")
    items = [submission("cu", {"ten": t}, version=1) for t in ["a" * 40 + "!"] * 100 + ["aab"]]
    pushed: list[Any] = []
    slow_push = threading.Thread(target=lambda: pushed.append(api.push("officer", items)))
    start = time.monotonic()
    slow_push.start()
    time.sleep(0.5)  # the push is matching
    waits = []
    while slow_push.is_alive() and len(waits) < 10:
        t = time.monotonic()
        assert api.client.get("/healthz").status_code == 200
        [other] = api.push("officer2", [submission("cu", {"ten": "ab"}, version=1)], "phone-2")
        assert other["status"] == "accepted"
        waits.append(time.monotonic() - t)
        time.sleep(0.2)
    slow_push.join()
    took = time.monotonic() - start
    assert len(waits) >= 3 and max(waits) < 1, (waits, took)
    assert took > 100 * 0.05  # each slow value had its 50 ms
    [results] = pushed
    assert {r["status"] for r in results[:-1]} == {"rejected"}
    assert [(e["path"], e["code"]) for e in results[0]["errors"]] == [
        ("submissions[0].data.ten", "pattern_timeout")
    ]
    assert results[-1]["status"] == "accepted"


def test_a_stored_item_whose_match_times_out_when_sent_again_is_a_duplicate(
    api: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A phone that lost the answer sends its batch again while the server is busy: a match
    that took a few milliseconds when the item was stored now runs out of time. The stored
    item is answered duplicate, as PROTOCOL says of a replay; a new item is refused
    pattern_timeout, and an old id with other content id_reused."""
    slow_form(api, "cu_lai", r"^(?:[\p{L} ]|ngh)+$")
    name = ("Nguyễn Văn Nghĩa " * 300).strip()
    stored = submission("cu_lai", {"ten": name}, version=1)
    assert api.push("officer", [stored])[0]["status"] == "accepted"
    monkeypatch.setattr(patterns, "TIMEOUT", 1e-7)  # every match of a long value times out
    new = submission("cu_lai", {"ten": name}, version=1)
    changed = {**stored, "data": {"ten": name + " Minh"}}
    again, fresh, reused = api.push("officer", [stored, new, changed])
    assert (again["status"], again["record_id"]) == ("duplicate", stored["id"])
    assert fresh["status"] == "rejected"
    assert [e["code"] for e in fresh["errors"]] == ["pattern_timeout"]
    assert reused["reason"] == "id_reused"
