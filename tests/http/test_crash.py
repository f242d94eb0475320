"""A real `coso serve` killed with SIGKILL while four phones push batches: after a restart on
the same file, every item acknowledged before the kill is stored exactly once, pushing
everything again yields only `duplicate` (acknowledged) or `duplicate`/`accepted` (in flight
at the kill), and the database passes `PRAGMA integrity_check`."""

from __future__ import annotations

import json
import random
import sqlite3
import threading
import time
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support import cli_add_user, hoa_giai, running_server, submission

pytestmark = pytest.mark.slow

AREA = "01.00070"
PUSH = "/api/v1/sync/push"
CLIENTS = 4
ROUNDS = 3  # kills, each while every phone is pushing


@dataclass
class Pusher:
    """A phone pushing batches of new cases and edits of its own acknowledged cases (each
    case a chain of edits, so nothing conflicts) until the server goes away. Back online,
    it first sends again the batch that got no answer, as a phone retries its outbox."""

    n: int
    token: str
    batches: list[list[dict[str, Any]]] = field(default_factory=list)  # every batch sent
    acked: set[str] = field(default_factory=set)  # ids in a batch answered with 200
    failure: str | None = None  # an answer other than 200, or an unexpected status
    heads: dict[str, str] = field(default_factory=dict)  # record -> its acknowledged head
    unanswered: tuple[list[dict[str, Any]], dict[str, str]] | None = None

    def run(self, url: str) -> None:
        rng = random.Random(f"{self.n}-{len(self.batches)}")
        headers = {"Authorization": f"Bearer {self.token}"}
        with httpx.Client(base_url=url, headers=headers, timeout=20) as http:
            while True:
                if self.unanswered:
                    (batch, tips), ok = self.unanswered, {"accepted", "duplicate"}
                else:
                    batch, tips, ok = [], dict(self.heads), {"accepted"}
                    for _ in range(rng.randint(5, 30)):
                        batch.append(self.new_item(rng, tips))
                    self.batches.append(batch)
                self.unanswered = (batch, tips)
                try:
                    r = http.post(PUSH, json={"device_id": f"phone-{self.n}", "submissions": batch})
                except httpx.HTTPError:
                    return  # the server is gone
                got = {res["status"] for res in r.json()["results"]} if r.is_success else set()
                if r.status_code != 200 or not got <= ok:
                    self.failure = f"{r.status_code} {r.text[:2000]}"
                    return
                self.acked |= {it["id"] for it in batch}
                self.heads, self.unanswered = tips, None

    @staticmethod
    def new_item(rng: random.Random, tips: dict[str, str]) -> dict[str, Any]:
        """A new case, or an edit of the latest version of one (updating `tips`)."""
        if tips and rng.random() < 0.4:
            rid = rng.choice(sorted(tips))
            data = {"so_buoi_hoa_giai": rng.randint(0, 100)}
            item = submission(
                "hoa_giai", data, version=2, record_id=rid, parents=[tips[rid]], rng=rng
            )
        else:
            item = submission("hoa_giai", hoa_giai(rng), version=2, rng=rng)
            rid = item["id"]
        tips[rid] = item["id"]
        return item


def stored_ids(db: Path) -> list[str]:
    with closing(sqlite3.connect(db)) as conn:
        return [r[0] for r in conn.execute("SELECT id FROM submissions")]


def test_sigkill_while_pushing_loses_no_acknowledged_item(tmp_path: Path) -> None:
    db, log = tmp_path / "coso.db", tmp_path / "server.log"
    token = cli_add_user(db, "officer", "officer", AREA)
    pushers = [Pusher(n, token) for n in range(CLIENTS)]
    acked: set[str] = set()
    for _ in range(ROUNDS):
        with running_server(db, log, ready_timeout=30) as srv:
            ids = stored_ids(db)
            assert len(ids) == len(set(ids))
            assert acked <= set(ids), f"{len(acked - set(ids))} acknowledged items were lost"
            assert integrity(db) == "ok"
            threads = [threading.Thread(target=p.run, args=(srv.url,)) for p in pushers]
            for t in threads:
                t.start()
            deadline = time.monotonic() + 20
            while sum(len(p.acked) for p in pushers) < len(acked) + 200:
                assert time.monotonic() < deadline, "the pushes are too slow"
                time.sleep(0.01)
            time.sleep(random.uniform(0, 0.1))
            srv.kill()
            for t in threads:
                t.join(30)
        assert all(not t.is_alive() for t in threads)
        assert [p.failure for p in pushers] == [None] * CLIENTS
        acked = set().union(*(p.acked for p in pushers))

    sent = {it["id"] for p in pushers for b in p.batches for it in b}
    with running_server(db, log, ready_timeout=30) as srv:
        ids = stored_ids(db)
        assert len(ids) == len(set(ids))
        assert acked <= set(ids), f"{len(acked - set(ids))} acknowledged items were lost"
        assert set(ids) <= sent
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=srv.url, headers=headers, timeout=30) as http:
            for p in pushers:
                for batch in p.batches:
                    r = http.post(PUSH, json={"device_id": f"phone-{p.n}", "submissions": batch})
                    assert r.status_code == 200, r.text
                    for it, res in zip(batch, r.json()["results"], strict=True):
                        want = {"duplicate"} if it["id"] in acked else {"duplicate", "accepted"}
                        assert res["status"] in want, (res, it["id"] in acked)

    ids = stored_ids(db)
    assert sorted(ids) == sorted(sent), "every item is stored exactly once"
    assert integrity(db) == "ok"
    with closing(sqlite3.connect(db)) as conn:
        docs = [json.loads(d) for (d,) in conn.execute("SELECT doc FROM records")]
        per_record = dict(
            conn.execute("SELECT record_id, count(*) FROM submissions GROUP BY record_id")
        )
    assert len(docs) == len(per_record)
    for doc in docs:  # each case is one chain of edits: all merged, one head, no conflict
        assert doc["revision"] == per_record[doc["record_id"]]
        assert len(doc["heads"]) == 1
        assert doc["conflicts"] == []


def integrity(db: Path) -> str:
    with closing(sqlite3.connect(db)) as conn:
        return str(conn.execute("PRAGMA integrity_check").fetchone()[0])
