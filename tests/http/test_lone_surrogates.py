"""Half of a UTF-16 surrogate pair ("\\ud83d", what JavaScript's JSON.stringify writes for
text cut inside an emoji) anywhere in a body: inside a push's submissions it costs that item
alone (tests/http/test_push.py); anywhere else the body is refused, 400, naming the text that
holds it, never with a parser's words ("Input data was truncated")."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest

from server.api import body as body_module
from tests.support import assert_problem, hoa_giai, latest_version, submission, uuid7

JSON = {"Content-Type": "application/json"}
MESSAGE = "half of a UTF-16 surrogate pair (an emoji cut in two)"


def refused_at(response: Any, path: str) -> None:
    body = assert_problem(response, 400)
    assert body["code"] == "malformed_body", body
    assert MESSAGE in body["detail"] and path in body["detail"], body
    [error] = body["errors"]
    assert (error["path"], error["code"]) == (path, "malformed"), body
    assert MESSAGE in error["message"], body
    assert "truncated" not in body["detail"] and "codec" not in body["detail"], body


@pytest.mark.parametrize(
    ("body", "path"),
    [
        ('{"device_id": "ph\\ud83d", "submissions": []}', "device_id"),
        # keys the envelope reads past (what the app's outbox file adds beside the batch)
        ('{"device_id": "p", "submissions": [], "exported_at": "v\\ud83d"}', "exported_at"),
        ('{"device_id": "p", "submissions": [], "drafts": {"a": ["x", "\\ude00"]}}', "drafts.a[1]"),
    ],
    ids=["device_id", "a key read past", "deep in a key read past"],
)
def test_push_envelope(api: Any, body: str, path: str) -> None:
    r = api.client.post(
        "/api/v1/sync/push", content=body.encode(), headers={**api.auth("officer"), **JSON}
    )
    refused_at(r, path)


@pytest.mark.parametrize(
    ("template", "path"),
    [
        ('{"heads": %s, "values": {"ket_qua": "ok"}, "note": "xong \\ud83d"}', "note"),
        ('{"heads": %s, "values": {"ket_qua": "y\\ud83d"}}', "values.ket_qua"),
    ],
    ids=["note", "a value"],
)
def test_resolve(api: Any, template: str, path: str) -> None:
    root = submission("hoa_giai", hoa_giai(random.Random(3)), version=2)
    api.push("officer", [root])
    body = template % f'["{root["id"]}"]'
    r = api.client.post(
        f"/api/v1/records/{root['id']}/resolve",
        content=body.encode(),
        headers={**api.auth("supervisor"), **JSON},
    )
    refused_at(r, path)


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (
            '{"form_id": "srg_x", "title": {"vi": "a\\ud83d", "en": "a"}, "fields": '
            '[{"name": "a", "type": "text", "label": {"vi": "a", "en": "a"}}]}',
            "application/json",
        ),
        (  # YAML's parser refuses the escape itself, with its line and column; JSON is YAML
            '{"form_id": "srg_x", "title": {"vi": "a\\ud83d", "en": "a"}, "fields": '
            '[{"name": "a", "type": "text", "label": {"vi": "a", "en": "a"}}]}',
            "application/yaml",
        ),
    ],
    ids=["json", "yaml"],
)
def test_publish_title(api: Any, body: str, content_type: str) -> None:
    r = api.client.post(
        "/api/v1/forms",
        content=body.encode(),
        headers={**api.auth("admin"), "Content-Type": content_type},
    )
    refused_at(r, "title.vi")


def test_a_push_waiting_too_long_for_its_turn_to_be_split_is_busy(
    api: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Such a body is split by the standard parser, one at a time: pushes waiting for their
    turn held the server's worker threads, which every other request needs, for as long as
    they kept coming (a white-box probe's suspicion). Past a few seconds: 503 `busy`, nothing
    stored, and the same push goes through once its turn comes."""
    monkeypatch.setattr(body_module, "SPLIT_WAIT_SECONDS", 0.2)
    good = submission("hoa_giai", hoa_giai(random.Random(5)), version=latest_version("hoa_giai"))
    cut = good | {"id": uuid7()}
    items = [json.dumps(good), json.dumps(cut).replace('"data": {', '"data": {"x": "\\ud83d", ', 1)]
    text = '{"device_id": "p", "submissions": [' + ", ".join(items) + "]}"
    headers = {**api.auth("officer"), **JSON}
    hooks = api.client.event_hooks["response"]
    api.client.event_hooks["response"] = []  # a 503, which the fixture takes for a bug
    with body_module._ONE_AT_A_TIME:  # another such body being read
        r = api.client.post("/api/v1/sync/push", content=text.encode(), headers=headers)
    api.client.event_hooks["response"] = hooks
    problem = assert_problem(r, 503)
    assert problem["code"] == "busy" and r.headers["retry-after"]
    assert " / " in problem["detail"]
    records = api.client.get("/api/v1/records", headers=api.auth("supervisor")).json()
    assert records["records"] == []  # nothing stored
    r = api.client.post("/api/v1/sync/push", content=text.encode(), headers=headers)
    assert [i["status"] for i in r.json()["results"]] == ["accepted", "rejected"]
