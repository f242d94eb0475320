"""Phones editing shared mediation cases offline, syncing over a network that drops
responses, and a supervisor settling conflicts: a hypothesis state machine over HTTP
(the real app through litestar's TestClient), checked against a model after every step.

The model is what the phones sent and what the server acknowledged; the records must always
be `record_model`'s reference evaluation of the stored submissions. Each example gets a
fresh database (cloned from a template with the real forms and users) swapped into the one
running app, which keeps a run well under the cost of starting an app per example.
"""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import event, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from litestar.testing import TestClient

from server.app import Settings, create_app
from server.catalog import Catalog
from tests.property.record_model import (
    POOLS,
    TIMES,
    Item,
    assert_matches,
    assert_nothing_lost,
    evaluate,
    fields_of,
    item_of_row,
    new_case,
    to_version,
)
from tests.support import fresh_store

AREA = "01.00070"
PUSH = "/api/v1/sync/push"


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient[Any]]:
    with TestClient(create_app(Settings(db=":memory:"))) as c:
        yield c


@dataclass
class Case:
    """A phone's copy of a record: the heads it knows and the form as it shows it."""

    heads: list[str]
    data: dict[str, Any]  # under the latest names


@dataclass
class Phone:
    device: str
    user: str
    version: int
    cases: dict[str, Case] = field(default_factory=dict)
    outbox: list[Item] = field(default_factory=list)  # sent or not, never acknowledged
    cursor: str | None = None


class Phones(RuleBasedStateMachine):
    client: TestClient[Any]

    def __init__(self) -> None:
        super().__init__()
        self.store, _, self.tokens = fresh_store()
        self.client.app.state.store = self.store
        self.client.app.state.catalog = Catalog(self.store)
        self.phones: list[Phone] = []
        self.stored: dict[str, Item] = {}  # everything in a batch the server answered 200
        self.acked: set[str] = set()  # what a phone got a result for
        self.records: list[str] = []
        self.rng = random.Random(0)

    def teardown(self) -> None:
        self.store.close()

    # --- helpers -------------------------------------------------------------------------

    def auth(self, user: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[user]}"}

    def new_id(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def server_record(self, rid: str) -> dict[str, Any]:
        r = self.client.get(f"/api/v1/records/{rid}", headers=self.auth("supervisor"))
        assert r.status_code == 200, r.text
        return r.json()  # type: ignore[no-any-return]

    # --- rules ---------------------------------------------------------------------------

    @initialize(
        seed=st.integers(0, 2**32),
        versions=st.lists(st.sampled_from([1, 2]), min_size=3, max_size=3),
        shared=st.integers(1, 2),
    )
    def start(self, seed: int, versions: list[int], shared: int) -> None:
        """Three phones; the first opens `shared` cases and syncs, the others pull them."""
        self.rng = random.Random(seed)
        users = ["officer", "officer2", "officer"]
        self.phones = [
            Phone(f"phone-{n}", u, v) for n, u, v in zip("abc", users, versions, strict=True)
        ]
        for k in range(shared):
            self.create_case(0, k, TIMES[k])
        self.push(self.phones[0], self.phones[0].outbox, drop=False)
        for phone in self.phones[1:]:
            self.pull(phone)

    @precondition(lambda self: len(self.records) < 4)
    @rule(p=st.integers(0, 2), seed=st.integers(0, 2**16), at=st.sampled_from(TIMES))
    def create_case(self, p: int, seed: int, at: str) -> None:
        phone = self.phones[p]
        sid = self.new_id()
        item = Item(
            sid, sid, (), at, new_case(seed, phone.version), phone.version, (), phone.device
        )
        phone.cases[sid] = Case([sid], item.latest)
        phone.outbox.append(item)
        self.records.append(sid)

    @rule(data=st.data())
    def edit_case(self, data: Any) -> None:
        """Edit offline: parents are the heads the phone knows; the whole form or changes."""
        phone = data.draw(st.sampled_from([p for p in self.phones if p.cases]))
        rid = data.draw(st.sampled_from(sorted(phone.cases)))
        case = phone.cases[rid]
        allowed = fields_of(phone.version)
        fields = data.draw(st.lists(st.sampled_from(allowed), min_size=1, max_size=3, unique=True))
        changes = {f: data.draw(st.sampled_from(POOLS[f])) for f in fields}
        whole = data.draw(st.booleans())
        sent = to_version({**case.data, **changes} if whole else changes, phone.version)
        sid = self.new_id()
        at = data.draw(st.sampled_from(TIMES))
        item = Item(sid, rid, tuple(case.heads), at, sent, phone.version, (), phone.device)
        phone.outbox.append(item)
        merged = {**case.data, **changes}
        phone.cases[rid] = Case([sid], {f: v for f, v in merged.items() if v is not None})

    @precondition(lambda self: any(p.outbox for p in self.phones))
    @rule(drop=st.booleans(), data=st.data())
    def sync(self, drop: bool, data: Any) -> None:
        """Push the outbox (or, on a flaky link, some of it in a random order). A dropped
        response: the server stored the batch, the phone never heard, and sends it again."""
        phone = data.draw(st.sampled_from([p for p in self.phones if p.outbox]))
        batch = phone.outbox
        if data.draw(st.booleans()):
            batch = data.draw(
                st.lists(st.sampled_from(phone.outbox), min_size=1, unique_by=lambda it: it.id)
            )
        self.push(phone, batch, drop)

    @rule(p=st.integers(0, 2))
    def pull_records(self, p: int) -> None:
        self.pull(self.phones[p])

    def push(self, phone: Phone, batch: list[Item], drop: bool) -> None:
        r = self.client.post(
            PUSH,
            json={"device_id": phone.device, "submissions": [it.wire() for it in batch]},
            headers=self.auth(phone.user),
        )
        assert r.status_code == 200, r.text
        results = r.json()["results"]
        before = set(self.stored)
        for it in batch:
            self.stored.setdefault(it.id, it)
        expected = evaluate(self.stored.values())
        for it, res in zip(batch, results, strict=True):
            exp = expected[it.record_id]
            assert (res["id"], res["record_id"]) == (it.id, it.record_id)
            if it.id in before:
                want = "duplicate"  # a retry of what the server already has
            elif exp is None or it.id not in exp.merged:
                want = "pending"
            else:
                want = "conflict" if exp.conflicts else "accepted"
            assert res["status"] == want, (res, want)
            event(f"push: {want}")
        if not drop:
            done = {it.id for it in batch}
            self.acked |= done
            phone.outbox = [it for it in phone.outbox if it.id not in done]

    def pull(self, phone: Phone) -> None:
        """Follow-up records, a page at a time from the phone's cursor; a case with edits
        still in the outbox keeps the phone's own copy."""
        waiting = {it.record_id for it in phone.outbox}
        more = True
        while more:
            params = {"limit": 3} | ({"since": phone.cursor} if phone.cursor else {})
            r = self.client.get("/api/v1/sync/pull", params=params, headers=self.auth(phone.user))
            assert r.status_code == 200, r.text
            page = r.json()
            for doc in page["records"]:
                if doc["record_id"] not in waiting:
                    phone.cases[doc["record_id"]] = Case(doc["heads"], doc["data"])
            phone.cursor, more = page["next"], page["more"]

    def open_conflicts(self) -> list[str]:
        with self.store.read() as conn:
            return [r[0] for r in conn.execute("SELECT record_id FROM records WHERE has_conflicts")]

    @precondition(lambda self: self.open_conflicts())
    @rule(data=st.data())
    def resolve(self, data: Any) -> None:
        """The supervisor settles some of a record's conflicts with its current heads."""
        doc = self.server_record(data.draw(st.sampled_from(self.open_conflicts())))
        chosen = data.draw(
            st.lists(st.sampled_from(doc["conflicts"]), min_size=1, unique_by=lambda c: c["field"])
        )
        values = {
            c["field"]: data.draw(
                st.sampled_from([v["value"] for v in c["values"] if v["value"] is not None])
            )
            for c in chosen
        }
        r = self.client.post(
            f"/api/v1/records/{doc['record_id']}/resolve",
            json={"heads": doc["heads"], "values": values, "note": "đã thống nhất"},
            headers=self.auth("supervisor"),
        )
        assert r.status_code == 200, r.text
        body = r.json()
        assert not {c["field"] for c in body["record"]["conflicts"]} & set(values)
        assert all(body["record"]["data"][f] == v for f, v in values.items())
        rows = self.store.submissions_of([doc["record_id"]])[doc["record_id"]]
        self.stored[body["submission_id"]] = item_of_row(
            next(row for row in rows if row.id == body["submission_id"])
        )
        self.acked.add(body["submission_id"])
        event("resolved a conflict")

    @rule(p=st.integers(0, 2))
    def resolve_with_stale_heads(self, p: int) -> None:
        """A supervisor working from a phone's older copy: 409, nothing stored."""
        heads = {rid: doc["heads"] for rid, doc in self.docs().items()}
        stale = [
            (rid, case.heads)
            for rid, case in self.phones[p].cases.items()
            if rid in heads and sorted(case.heads) != heads[rid]
        ]
        if not stale:
            return
        rid, heads = stale[0]
        r = self.client.post(
            f"/api/v1/records/{rid}/resolve",
            json={"heads": heads, "values": {"trang_thai": "hoa_giai_thanh"}},
            headers=self.auth("supervisor"),
        )
        assert r.status_code == 409, r.text
        assert r.headers["content-type"].startswith("application/problem+json")
        event("stale heads: 409")

    def docs(self) -> dict[str, dict[str, Any]]:
        with self.store.read() as conn:
            rows = conn.execute("SELECT record_id, doc FROM records").fetchall()
        return {rid: json.loads(doc) for rid, doc in rows}

    # --- invariants ----------------------------------------------------------------------

    @invariant()
    def every_stored_submission_is_kept_once_as_sent(self) -> None:
        with self.store.read() as conn:
            rows = conn.execute("SELECT id, count(*) FROM submissions GROUP BY id").fetchall()
        assert all(n == 1 for _, n in rows)
        assert {sid for sid, _ in rows} == set(self.stored)
        assert self.acked <= set(self.stored)
        by_record = self.store.submissions_of(sorted({it.record_id for it in self.stored.values()}))
        for rows_ in by_record.values():
            for row in rows_:
                assert item_of_row(row) == self.stored[row.id]

    @invariant()
    def records_are_the_merge_of_their_stored_submissions(self) -> None:
        docs = self.docs()
        expected = evaluate(self.stored.values())
        assert set(docs) == {rid for rid, e in expected.items() if e is not None}
        for rid, doc in docs.items():
            exp = expected[rid]
            assert exp is not None
            assert_matches(doc, exp)
            assert_nothing_lost(doc, exp)


def test_phones_sync_through_dropped_responses_and_a_supervisor_resolves(
    client: TestClient[Any],
) -> None:
    Phones.client = client
    run_state_machine_as_test(Phones, settings=settings(stateful_step_count=40))
