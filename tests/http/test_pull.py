"""Pulling by cursor (`GET /records`, `GET /sync/pull`): every page size sees every change
once, changes made while paging are seen, a client that applies every page ends with the
server's records for its area, cursors name their database, and no read endpoint shows a
record outside the caller's area."""

from __future__ import annotations

import base64
import itertools
import json
import random
from collections.abc import Iterator
from typing import Any

import msgspec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from server import areas, cursor
from server.store import Store
from tests.conftest import OFFICER_AREA, OTHER_COMMUNE, OTHER_PROVINCE, Api
from tests.support import COMMENDATION, assert_problem, hoa_giai, latest_schema, submission

RECORDS, PULL = "/api/v1/records", "/api/v1/sync/pull"


def new_case(api: Api, who: str, seed: int) -> str:
    """A new mediation case (a `sync_to_devices` form); its record id."""
    item = submission("hoa_giai", hoa_giai(random.Random(seed)), version=2)
    (result,) = api.push(who, [item], device_id=f"phone-{who}")
    assert result["status"] == "accepted", result
    return item["id"]  # type: ignore[no-any-return]


def new_commendation(api: Api, who: str) -> str:
    """A new commendation proposal (a form that does not sync to devices)."""
    (result,) = api.push(who, [submission("khen_thuong", COMMENDATION, version=1)])
    assert result["status"] == "accepted", result
    return result["record_id"]  # type: ignore[no-any-return]


def heads(api: Api, record_id: str) -> list[str]:
    row = api.store.record(record_id)
    assert row is not None
    return _doc(row.doc)["heads"]  # type: ignore[no-any-return]


def _doc(doc: str) -> dict[str, Any]:
    return msgspec.json.decode(doc)  # type: ignore[no-any-return]


def edit(api: Api, who: str, record_id: str, value: str, parents: list[str] | None = None) -> str:
    """Set `ket_qua` on a mediation case, from its current heads unless `parents` are given."""
    item = submission(
        "hoa_giai",
        {"ket_qua": value},
        version=2,
        record_id=record_id,
        parents=parents if parents is not None else heads(api, record_id),
    )
    (result,) = api.push(who, [item], device_id=f"phone-{who}")
    assert result["status"] in ("accepted", "conflict"), result
    return item["id"]  # type: ignore[no-any-return]


def pages(
    api: Api, who: str, path: str, limit: int, since: str | None = None, **params: str
) -> Iterator[dict[str, Any]]:
    """Every page from `since` until `more` is false."""
    while True:
        query: dict[str, Any] = {"limit": limit, **params}
        if since is not None:
            query["since"] = since
        r = api.client.get(path, params=query, headers=api.auth(who))
        assert r.status_code == 200, r.text
        page = r.json()
        assert len(page["records"]) <= limit
        yield page
        since = page["next"]
        if not page["more"]:
            return


def server_records(api: Api, area: str, form_ids: list[str] | None = None) -> dict[str, Any]:
    """The truth, read from the store: record_id -> record, for an area."""
    rows, _ = api.store.records_page(
        area=area, since=0, limit=10**9, form_ids=form_ids, max_bytes=None
    )
    return {row.record_id: _doc(row.doc) for row in rows}


def apply(state: dict[str, Any], page: dict[str, Any]) -> None:
    for rec in page["records"]:
        state[rec["record_id"]] = rec


# --- paging ------------------------------------------------------------------------------


def _seed(api: Api) -> dict[str, str]:
    api.tokens["officer79"] = api.user("officer79", "officer", OTHER_PROVINCE)
    ids = {f"mine{i}": new_case(api, "officer", i) for i in range(5)}
    ids["sibling"] = new_case(api, "other_officer", 10)
    ids["far"] = new_case(api, "officer79", 11)
    ids["award"] = new_commendation(api, "officer")
    ids["mine5"] = new_case(api, "officer2", 12)
    edit(api, "officer", ids["mine1"], "đã hòa giải")  # moves mine1 after the others
    edit(api, "other_officer", ids["sibling"], "chuyển xã")
    return ids


def test_every_page_size_sees_every_record_once_per_state(api: Api) -> None:
    _seed(api)
    for who, path, area, forms in (
        ("supervisor", RECORDS, "01", None),
        ("officer", PULL, OFFICER_AREA, api.catalog.device_forms()),
    ):
        truth = server_records(api, area, forms)
        n = len(truth)
        assert n >= 6
        for limit in range(1, n + 3):
            seen = [rec for page in pages(api, who, path, limit) for rec in page["records"]]
            ids = [rec["record_id"] for rec in seen]
            assert len(ids) == len(set(ids)), (path, limit)
            assert {rec["record_id"]: rec for rec in seen} == truth, (path, limit)
            seqs = [api.store.record(i).change_seq for i in ids]  # type: ignore[union-attr]
            assert seqs == sorted(seqs), "oldest change first"


def test_a_second_pull_from_the_cursor_brings_each_changed_record_once(api: Api) -> None:
    ids = _seed(api)
    first = list(pages(api, "supervisor", RECORDS, 1000))
    cursor_after = first[-1]["next"]
    for key, value in (("mine0", "a"), ("mine3", "b"), ("mine0", "c"), ("sibling", "d")):
        edit(api, "officer" if key != "sibling" else "other_officer", ids[key], value)
    truth = server_records(api, "01")
    for limit in range(1, 6):
        seen = [
            rec
            for page in pages(api, "supervisor", RECORDS, limit, since=cursor_after)
            for rec in page["records"]
        ]
        assert sorted(r["record_id"] for r in seen) == sorted(
            [ids["mine0"], ids["mine3"], ids["sibling"]]
        )
        for rec in seen:
            assert rec == truth[rec["record_id"]]
        assert next(r for r in seen if r["record_id"] == ids["mine0"])["data"]["ket_qua"] == "c"


def test_an_empty_pull_keeps_the_cursor_and_says_no_more(api: Api) -> None:
    (page,) = pages(api, "supervisor", RECORDS, 10)
    assert page == {"records": [], "next": page["next"], "more": False}
    (again,) = pages(api, "supervisor", RECORDS, 10, since=page["next"])
    assert again["next"] == page["next"] and not again["more"]


def test_a_form_made_a_follow_up_form_brings_its_records_to_phones_already_in_sync(
    api: Api,
) -> None:
    """PROTOCOL: pulling from `next` until `more` is false misses no change. A version that
    turns `sync_to_devices` on adds the form's stored records to what phones pull: a phone
    whose cursor is past them gets them from its cursor, once."""
    mine, theirs = new_commendation(api, "officer"), new_commendation(api, "other_officer")
    case = new_case(api, "officer", 1)
    (page,) = pages(api, "officer", PULL, 1000)
    assert [r["record_id"] for r in page["records"]] == [case]
    cursor_before = page["next"]
    publish = {**latest_schema("khen_thuong"), "sync_to_devices": True}
    r = api.client.post("/api/v1/forms", json=publish, headers=api.auth("admin"))
    assert r.status_code == 201, r.text
    got = [r for p in pages(api, "officer", PULL, 1, since=cursor_before) for r in p["records"]]
    assert [r["record_id"] for r in got] == [mine]  # the officer's area only
    assert got[0] == server_records(api, OFFICER_AREA)[mine]
    assert [r["record_id"] for p in pages(api, "officer", PULL, 1000) for r in p["records"]] == [
        case,
        mine,
    ]
    # a later version that keeps it a follow-up form changes nothing for the phones
    cursor_after = list(pages(api, "officer", PULL, 1000, since=cursor_before))[-1]["next"]
    r = api.client.post(
        "/api/v1/forms",
        json={**publish, "title": {"vi": "Khen", "en": "Praise"}},
        headers=api.auth("admin"),
    )
    assert r.status_code == 201, r.text
    (page,) = pages(api, "officer", PULL, 1000, since=cursor_after)
    assert page["records"] == []
    assert theirs in server_records(api, OTHER_COMMUNE)


def test_a_change_during_a_paged_pull_is_seen(api: Api) -> None:
    ids = [new_case(api, "officer", i) for i in range(6)]
    state: dict[str, Any] = {}
    walk = pages(api, "supervisor", RECORDS, 2)
    apply(state, next(walk))  # the first two records
    assert set(state) == set(ids[:2])
    edit(api, "officer", ids[0], "already pulled, changed")
    edit(api, "officer", ids[4], "not pulled yet, changed")
    new = new_case(api, "officer2", 99)
    for page in walk:
        apply(state, page)
    assert state == server_records(api, "01")
    assert state[ids[0]]["data"]["ket_qua"] == "already pulled, changed"
    assert state[ids[4]]["data"]["ket_qua"] == "not pulled yet, changed"
    assert new in state


# --- a client applying every page ends with the server's records -------------------------


PUSHERS = ("officer", "other_officer", "far_officer")
CLIENTS = (("supervisor", RECORDS), ("officer", PULL))
op = st.one_of(
    st.tuples(st.just("new"), st.sampled_from(PUSHERS), st.booleans()),
    st.tuples(st.just("edit"), st.integers(0, 50), st.booleans()),
    st.tuples(st.just("pull"), st.sampled_from(range(len(CLIENTS))), st.integers(1, 4)),
)
EXAMPLE = itertools.count()


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(ops=st.lists(op, max_size=30))
def test_a_client_applying_every_page_ends_with_the_servers_records(
    api: Api, ops: list[tuple[Any, ...]]
) -> None:
    # Each example gets areas of its own (one app for all examples: making one costs 0.5 s),
    # so its clients see exactly the records it made.
    n = next(EXAMPLE)
    where = {
        "supervisor": ("supervisor", f"P{n}"),
        "officer": ("officer", f"P{n}.A"),
        "other_officer": ("officer", f"P{n}.B"),
        "far_officer": ("officer", f"Q{n}.A"),
    }
    users = {name: api.user(f"{name}-{n}", role, area) for name, (role, area) in where.items()}
    made: list[tuple[str, str]] = []  # (record_id, who made it)
    clients: list[dict[str, Any]] = [{"state": {}, "since": None} for _ in CLIENTS]
    for i, (kind, a, b) in enumerate(ops):
        if kind == "new":
            rid = new_case(api, users[a], i) if b else new_commendation(api, users[a])
            made.append((rid, users[a]))
        elif kind == "edit" and made:
            rid, token = made[a % len(made)]
            if api.store.record(rid).form_id == "hoa_giai":  # type: ignore[union-attr]
                # b: from a stale head (the first submission), so edits run concurrently
                edit(api, token, rid, f"edit {i}", parents=[rid] if b else None)
        elif kind == "pull":
            who, path = CLIENTS[a]
            client = clients[a]
            page = next(pages(api, users[who], path, b, since=client["since"]))
            apply(client["state"], page)
            client["since"] = page["next"]
    for (who, path), client in zip(CLIENTS, clients, strict=True):
        for page in pages(api, users[who], path, 7, since=client["since"]):
            apply(client["state"], page)
        forms = api.catalog.device_forms() if path == PULL else None
        assert client["state"] == server_records(api, where[who][1], forms)


# --- cursors -----------------------------------------------------------------------------


def test_a_cursor_from_another_database_asks_for_a_reset(api: Api) -> None:
    new_case(api, "officer", 1)
    other = Store(":memory:")
    foreign = [cursor.make(other.db_id, 1), cursor.make(other.db_id, 0)]
    other.close()
    for since in foreign:
        for who, path in (
            ("supervisor", RECORDS),
            ("officer", PULL),
            ("supervisor", "/api/v1/forms/hoa_giai/export"),
        ):
            r = api.client.get(path, params={"since": since}, headers=api.auth(who))
            body = assert_problem(r, 409)
            assert body["code"] == "reset_required"
    # pulling again from the start works
    assert next(pages(api, "supervisor", RECORDS, 10))["records"]


def test_a_cursor_from_a_restored_database_asks_for_a_reset(api: Api) -> None:
    new_case(api, "officer", 1)
    (page,) = pages(api, "supervisor", RECORDS, 10)
    with api.store.write() as w:  # what a restore does: same data, a new identity
        w.set_db_id("restored-" + api.store.db_id)
    api.store.db_id = "restored-" + api.store.db_id
    r = api.client.get(RECORDS, params={"since": page["next"]}, headers=api.auth("supervisor"))
    assert assert_problem(r, 409)["code"] == "reset_required"


def test_a_garbage_cursor_is_a_400(api: Api) -> None:
    def b64(text: str) -> str:
        return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")

    db = api.store.db_id
    for since in (
        "zz",
        "!!!",
        "%%%",
        b64("c1:x"),
        b64(f"c1:{db}:-1"),
        b64(f"c1:{db}:nine"),
        b64(f"c2:{db}:1"),
        b64(f"c1:{db}:1:2"),
        "\u00e9\u00e9",
        b64(f"c1:{db}:01"),  # a number spelt otherwise than coso spells it
        b64(f"c1:{db}:0") + "==",  # padding coso never writes
    ):
        for who, path in (
            ("supervisor", RECORDS),
            ("officer", PULL),
            ("supervisor", "/api/v1/forms/hoa_giai/export"),
        ):
            r = api.client.get(path, params={"since": since}, headers=api.auth(who))
            assert assert_problem(r, 400)["code"] == "bad_cursor", (since, path)


# --- areas: no read endpoint shows a record outside the caller's area ---------------------


def _visible(api: Api, who: str, all_ids: list[str]) -> dict[str, set[str]]:
    """The record ids `who` gets through each read endpoint (empty when refused)."""
    headers = api.auth(who)
    out: dict[str, set[str]] = {}
    r = api.client.get(RECORDS, params={"limit": 1000}, headers=headers)
    out["records"] = (
        {x["record_id"] for x in r.json()["records"]} if r.status_code == 200 else set()
    )
    r = api.client.get(PULL, params={"limit": 1000}, headers=headers)
    out["pull"] = {x["record_id"] for x in r.json()["records"]} if r.status_code == 200 else set()
    r = api.client.get("/api/v1/conflicts", headers=headers)
    out["conflicts"] = (
        {x["record_id"] for x in r.json()["records"]} if r.status_code == 200 else set()
    )
    out["export"] = set()
    for form in ("hoa_giai", "khen_thuong"):
        r = api.client.get(f"/api/v1/forms/{form}/export?format=jsonl", headers=headers)
        if r.status_code == 200:
            out["export"] |= {json.loads(line)["record_id"] for line in r.text.splitlines()}
    out["by_id"] = set()
    for rid in all_ids:
        r = api.client.get(f"{RECORDS}/{rid}", headers=headers)
        assert r.status_code in (200, 403), r.text
        if r.status_code == 200:
            out["by_id"].add(rid)
    return out


def test_no_read_endpoint_shows_a_record_outside_the_callers_area(api: Api) -> None:
    api.tokens["officer79"] = api.user("officer79", "officer", OTHER_PROVINCE)
    api.tokens["supervisor_lookalike"] = api.user("lookalike", "supervisor", "01.0007")
    api.tokens["supervisor_commune"] = api.user("sup_commune", "supervisor", OTHER_COMMUNE)
    # officers are bound to one area: one above others' areas sees none of theirs
    api.tokens["officer_province"] = api.user("officer_province", "officer", "01")
    api.tokens["officer_village"] = api.user("officer_village", "officer", f"{OFFICER_AREA}.tdp1")
    records: dict[str, str] = {}  # record_id -> area
    for who, area in (
        ("officer", OFFICER_AREA),
        ("other_officer", OTHER_COMMUNE),
        ("officer79", OTHER_PROVINCE),
        ("officer_village", f"{OFFICER_AREA}.tdp1"),
    ):
        for seed in range(2):
            rid = new_case(api, who, seed)
            records[rid] = area
            # two edits from the same head: an open conflict in every area
            edit(api, who, rid, "một", parents=[rid])
            edit(api, who, rid, "hai", parents=[rid])
        records[new_commendation(api, who)] = area
    device = set(server_records(api, "", api.catalog.device_forms()))
    all_ids = list(records)
    for who, area, role in (
        ("supervisor", "01", "supervisor"),
        ("other_supervisor", "79", "supervisor"),
        ("supervisor_lookalike", "01.0007", "supervisor"),
        ("supervisor_commune", OTHER_COMMUNE, "supervisor"),
        ("officer", OFFICER_AREA, "officer"),
        ("other_officer", OTHER_COMMUNE, "officer"),
        ("officer_province", "01", "officer"),
        ("officer_village", f"{OFFICER_AREA}.tdp1", "officer"),
        ("admin", "", "admin"),
    ):
        mine = {rid for rid, at in records.items() if areas.reaches(role, area, at)}
        if role == "officer":
            assert mine == {rid for rid, at in records.items() if at == area}, who
        seen = _visible(api, who, all_ids)
        assert seen["pull"] == mine & device, who
        if role == "officer":  # supervisor+ endpoints refuse officers
            assert seen["records"] == seen["conflicts"] == seen["export"] == seen["by_id"] == set()
        else:
            assert seen["records"] == mine, who
            assert seen["conflicts"] == mine & device, who  # the cases have conflicts
            assert seen["export"] == mine, who
            assert seen["by_id"] == mine, who


def test_an_export_area_outside_the_callers_is_forbidden(api: Api) -> None:
    new_case(api, "officer", 1)
    url = "/api/v1/forms/hoa_giai/export"
    for who, area in (
        ("supervisor", "79"),
        ("supervisor", "0"),
        ("other_supervisor", "01"),
        ("other_supervisor", OFFICER_AREA),
    ):
        r = api.client.get(url, params={"area": area}, headers=api.auth(who))
        assert_problem(r, 403)
    r = api.client.get(url, params={"area": OFFICER_AREA}, headers=api.auth("supervisor"))
    assert len(r.text.splitlines()) == 2  # the header and the case
    # inside the caller's area, and a prefix of the case's area, but not above it
    r = api.client.get(url, params={"area": "01.0007"}, headers=api.auth("supervisor"))
    assert len(r.text.splitlines()) == 1


# --- pages of large records --------------------------------------------------------------

NOTES = {
    "form_id": "ghi_chep_dai",
    "title": {"vi": "Ghi chép dài", "en": "Long notes"},
    "sync_to_devices": True,
    "fields": [
        {"name": "noi_dung", "type": "text", "label": {"vi": "Nội dung", "en": "Content"}},
        {"name": "phu", "type": "text", "label": {"vi": "Phụ", "en": "More"}},
    ],
}


def test_a_page_of_large_records_ends_at_its_byte_budget_and_misses_none(api: Api) -> None:
    """A text field with no length limit holds 100,000 characters: a page of `limit=1000`
    such records was read, held and sent whole, gigabytes for a few supervisors at once
    (found by a probe). A page ends once its documents hold PAGE_BYTES, with `more`; paging
    on still brings every record once, on /records, /sync/pull and in an export."""
    from server.store import PAGE_BYTES

    r = api.client.post("/api/v1/forms", json=NOTES, headers=api.auth("admin"))
    assert r.status_code == 201, r.text
    text = "Nguyễn Văn An đã trình bày. " * 3_500  # ~100,000 characters, a field's most
    big = 2 * len(text)
    n = PAGE_BYTES // big + 3  # more than a page holds
    ids = set()
    for i in range(n):
        item = submission("ghi_chep_dai", {"noi_dung": text, "phu": text[i:]}, version=1)
        (result,) = api.push("officer", [item])
        assert result["status"] == "accepted", result
        ids.add(item["id"])
    small = new_case(api, "officer", 99)  # after them: one more page to reach

    for path, params in ((RECORDS, {"form_id": "ghi_chep_dai"}), (PULL, {})):
        seen: list[str] = []
        for page in pages(api, "supervisor", path, 1000, **params):
            docs = [json.dumps(rec, ensure_ascii=False) for rec in page["records"]]
            assert docs, "every page holds one record at least"
            assert sum(map(len, docs)) < PAGE_BYTES + 2 * big  # one record over, at most
            seen += [rec["record_id"] for rec in page["records"]]
        wanted = ids | ({small} if path == PULL else set())
        assert len(seen) == len(set(seen)) and set(seen) == wanted, path
    first = api.client.get(
        RECORDS, params={"form_id": "ghi_chep_dai", "limit": 1000}, headers=api.auth("supervisor")
    ).json()
    assert first["more"] and len(first["records"]) < n

    r = api.client.get(
        "/api/v1/forms/ghi_chep_dai/export?format=jsonl", headers=api.auth("supervisor")
    )
    assert r.status_code == 200
    exported = [json.loads(line)["record_id"] for line in r.text.splitlines()]
    assert sorted(exported) == sorted(ids)
