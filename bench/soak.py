"""Soak: many phones editing offline against a real `coso serve`, with faults, then proof.

    python -m bench.soak [--seconds 60] [--phones 50] [--seed 1] [--quick] [--json] [--keep]

A real `coso serve` runs in a subprocess on a free loopback port over a temporary SQLite
file. Officers (one per phone) are spread over three communes of Hà Nội, and two
supervisors watch: one the whole province, one a single commune (the two race on that
commune's conflicts).

Each phone, for `--seconds`, works offline and syncs, over and over:
- it creates `hoa_giai` and `mo_hinh` records (one phone in ten runs an old app that still
  fills `hoa_giai` v1, whose `tom_tat` is `noi_dung_vu_viec` in v2), edits its own records,
  and edits shared cases of its commune that it learned from `GET /sync/pull`, with
  `parents` = the heads it knows (from its last pull or its own last edit). Many phones of
  one commune edit the same recent cases at once, so the server merges concurrent edits and
  lists conflicts. A case stops being edited after about 20 revisions, as real cases close;
- it pushes a random number (1-200) of items from its outbox, mostly oldest first and
  sometimes a random sample, so that a child can arrive before its parent (`pending`);
- some answers are lost: either the whole answer arrives and the phone discards it, or the
  phone hangs up before the answer (a 5 ms read timeout). The phone then sends the very
  same batch again before anything else. Bodies go as JSON, gzip'd JSON or MessagePack;
- one phone's clock runs two days ahead (records get `clock_skew`), the others are off by
  up to two hours either way.

Meanwhile each supervisor pulls `GET /records` with its cursor until `more` is false and
resolves a few conflicted records with `POST /records/{id}/resolve` (409 stale heads is
normal: it re-reads the record and tries again, at most 4 times).

When the time is up the phones flush their outboxes with no faults, the supervisors pull one
last time, the server is stopped, and the soak checks:
  (a) every acknowledged item (accepted/duplicate/conflict/pending in a 200) is stored
      exactly once, in the record it was acknowledged for; no id was acknowledged as new
      twice; a resent batch whose first answer was discarded came back all `duplicate`;
  (b) no request got a 5xx (as seen by the phones, and in the server's access log, which
      also sees the requests whose answer a phone hung up on) and nothing unexpected
      (non-200 pushes and pulls, rejected items, transport errors we did not cause);
  (c) the server's records equal a replay of every stored submission into a fresh database
      through `server.sync.push` (each device's items shuffled, cut into random batches, the
      batches of all devices shuffled, with their original user and device): same records,
      data, heads, conflicts, revision, flags; and no submission is left pending;
  (d) each supervisor's cursor pull ended with exactly the stored document of every record
      in its area.
It reports throughput (new submissions acknowledged per second), p50/p99 latencies of push,
pull and resolve requests, the count of each status, and every violation; the exit status is
1 when there is one. `--json` prints rows for `bench.run`; its baseline is the replay: the
same submissions through `server.sync.push` in-process, with no HTTP.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import gzip
import json
import random
import signal
import sqlite3
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import msgspec

from server import sync
from server.app import ROOT
from server.auth import add_user
from server.catalog import Catalog, publish_files, schema_files
from server.store import Store
from server.store_schema import SUBMISSION_COLUMNS, User
from tests.support import STREETS, cli_add_user, hoa_giai, now, person, running_server, uuid7

PROVINCE = "01"  # Thành phố Hà Nội
COMMUNES = ("01.00070", "01.00004", "01.00073")  # Hoàn Kiếm, Ba Đình, Cửa Nam
NEW_ACK = ("accepted", "conflict", "pending")
ACKED = (*NEW_ACK, "duplicate")
REVISION_CAP = 20  # a case is closed (no more edits) after about this many revisions
SHARED_KEEP = 40  # recent shared records a phone keeps in mind
OWN_KEEP = 30
DROP_READ, DROP_ABORT = 0.07, 0.03  # chance a push answer is discarded / hung up on
ABORT_TIMEOUT = httpx.Timeout(120.0, read=0.005)
TIMEOUT = httpx.Timeout(120.0)
FLUSH_ATTEMPTS = 60


@dataclass
class Config:
    seconds: float = 60.0
    phones: int = 50
    seed: int = 1
    workdir: Path | None = None  # kept when given; a temporary directory otherwise
    think: float = 0.05  # a phone's pause between cycles, uniform in [0, think] seconds


# --- what every actor counts -----------------------------------------------------------


@dataclass
class Stats:
    latency: dict[str, list[float]] = field(default_factory=lambda: collections.defaultdict(list))
    http: Counter[tuple[str, int]] = field(default_factory=Counter)
    statuses: Counter[str] = field(default_factory=Counter)
    acked: dict[str, str] = field(default_factory=dict)  # submission id -> record id
    new_acks: Counter[str] = field(default_factory=Counter)  # id -> times acked as new
    new_in_load: int = 0
    events: Counter[str] = field(default_factory=Counter)
    violations: list[str] = field(default_factory=list)
    pulled: int = 0

    def merge(self, other: Stats) -> None:
        for k, v in other.latency.items():
            self.latency[k].extend(v)
        self.http.update(other.http)
        self.statuses.update(other.statuses)
        self.acked.update(other.acked)
        self.new_acks.update(other.new_acks)
        self.new_in_load += other.new_in_load
        self.events.update(other.events)
        self.violations.extend(other.violations)
        self.pulled += other.pulled


class Actor:
    """An HTTP client that times and counts every request."""

    def __init__(self, url: str, token: str) -> None:
        self.client = httpx.Client(
            base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=TIMEOUT
        )
        self.stats = Stats()

    def close(self) -> None:
        self.client.close()

    def call(
        self,
        kind: str,
        method: str,
        url: str,
        *,
        expect: tuple[int, ...] = (200,),
        abort: bool = False,
        **kw: Any,
    ) -> httpx.Response | None:
        """The response, or None when the request failed at the transport level (a hang-up
        we caused with `abort` is counted, anything else is a violation)."""
        started = time.perf_counter()
        try:
            r = self.client.request(method, url, timeout=ABORT_TIMEOUT if abort else TIMEOUT, **kw)
        except httpx.TimeoutException as exc:
            if abort:
                self.stats.events["push answers hung up on"] += 1
                return None
            self.stats.violations.append(f"{kind}: timed out: {exc!r}")
            return None
        except httpx.TransportError as exc:
            self.stats.violations.append(f"{kind}: transport error: {exc!r}")
            return None
        if not abort:
            self.stats.latency[kind].append(time.perf_counter() - started)
        self.stats.http[(kind, r.status_code)] += 1
        if r.status_code not in expect:
            self.stats.violations.append(
                f"{kind}: {method} {url} -> {r.status_code} {r.text[:300]}"
            )
        return r


# --- phones ---------------------------------------------------------------------------


HG_STATUS = [
    "moi_tiep_nhan",
    "dang_hoa_giai",
    "hoa_giai_thanh",
    "hoa_giai_khong_thanh",
    "chuyen_co_quan_tham_quyen",
    "rut_yeu_cau",
]
OUTCOMES = [
    "Hai bên thỏa thuận mở lại lối đi chung rộng 1,2 m.",
    "Bên vay cam kết trả dần trong 6 tháng.",
    "Hai bên rút đơn sau buổi hòa giải thứ hai.",
    "Chưa thống nhất; hẹn buổi hòa giải tiếp theo.",
]
MH_KINDS = ["tu_quan", "tu_phong", "tu_bao_ve", "tu_hoa_giai", "khac"]
MH_FIELDS = [
    "phong_chong_toi_pham",
    "phong_chong_ma_tuy",
    "an_ninh_trat_tu",
    "camera_an_ninh",
    "an_toan_giao_thong",
    "phong_chay_chua_chay",
    "hoa_giai_mau_thuan",
    "quan_ly_cu_tru",
]
MH_NAMES = [
    "Camera an ninh khu dân cư",
    "Tổ liên gia an toàn phòng cháy chữa cháy",
    "Dòng họ không có tội phạm và tệ nạn xã hội",
    "Tổ tự quản đường phố văn minh",
    "Câu lạc bộ phòng chống ma túy",
]
ACTIVITIES = ["Tuần tra ban đêm", "Họp định kỳ tháng", "Tuyên truyền phòng cháy chữa cháy"]


def _date(rng: random.Random) -> str:
    return f"2026-{rng.randint(1, 11):02d}-{rng.randint(1, 28):02d}"


def _phone_number(rng: random.Random) -> str:
    return f"09{rng.randint(10_000_000, 99_999_999)}"


def new_mo_hinh(rng: random.Random) -> dict[str, Any]:
    return {
        "ten_mo_hinh": rng.choice(MH_NAMES),
        "loai_mo_hinh": rng.choice(MH_KINDS),
        "ngay_thanh_lap": _date(rng),
        "linh_vuc_hoat_dong": rng.sample(MH_FIELDS, rng.randint(1, 3)),
        "so_thanh_vien": rng.randint(5, 200),
        "nguoi_phu_trach": person(rng),
        "sdt_nguoi_phu_trach": _phone_number(rng),
        "hoat_dong": [
            {"ngay": _date(rng), "noi_dung": rng.choice(ACTIVITIES), "so_nguoi_tham_gia": 12}
        ],
        "hieu_qua": rng.choice(["tot", "kha", "trung_binh"]),
        "vi_tri": {
            "lat": round(21.02 + rng.uniform(-0.02, 0.02), 6),
            "lon": round(105.85 + rng.uniform(-0.02, 0.02), 6),
        },
    }


def new_hoa_giai(rng: random.Random, version: int) -> dict[str, Any]:
    data = hoa_giai(rng)
    if version == 1:
        data["tom_tat"] = data.pop("noi_dung_vu_viec")
    return data


def edit_hoa_giai(rng: random.Random, data: dict[str, Any], version: int) -> None:
    """Change one to three fields the way an officer updates a case after a visit. Small
    value sets, so that concurrent edits sometimes agree and sometimes conflict."""
    text = "tom_tat" if version == 1 else "noi_dung_vu_viec"
    choices = ["trang_thai", "so_buoi_hoa_giai", "ket_qua", "ngay_theo_doi_tiep", "cac_ben"]
    choices += ["hoa_giai_vien", text] + (["muc_do_phuc_tap"] if version >= 2 else [])
    for f in rng.sample(choices, rng.randint(1, 3)):
        if f == "trang_thai":
            data[f] = rng.choice(HG_STATUS)
        elif f == "so_buoi_hoa_giai":
            data[f] = min(100, int(data.get(f) or 0) + 1)
        elif f == "ket_qua":
            data[f] = rng.choice([None, *OUTCOMES])
        elif f == "ngay_theo_doi_tiep":
            data[f] = rng.choice([None, _date(rng)])
        elif f == "cac_ben":
            parties = list(data.get(f) or [])
            extra = {"ho_ten": person(rng), "vai_tro": "nguoi_lien_quan"}
            data[f] = [*parties, extra] if len(parties) < 6 else parties[:2]
        elif f == "hoa_giai_vien":
            data[f] = f"{person(rng)}, {person(rng)}"
        elif f == "muc_do_phuc_tap":
            data[f] = rng.choice(["don_gian", "phuc_tap", "nguy_co_mat_antt"])
        else:
            data[f] = (
                f"Tranh chấp lối đi chung tại phố {rng.choice(STREETS)}; "
                f"đã làm việc với các bên {rng.randint(1, 3)} lần."
            )


def edit_mo_hinh(rng: random.Random, data: dict[str, Any]) -> None:
    choices = ["so_thanh_vien", "hieu_qua", "ghi_chu", "hoat_dong", "linh_vuc_hoat_dong"]
    for f in rng.sample(choices, rng.randint(1, 2)):
        if f == "so_thanh_vien":
            data[f] = max(0, int(data.get(f) or 0) + rng.choice([-1, 1, 2]))
        elif f == "hieu_qua":
            data[f] = rng.choice(["tot", "kha", "trung_binh", "yeu"])
        elif f == "ghi_chu":
            data[f] = rng.choice([None, "Cần bổ sung kinh phí camera.", "Hoạt động đều đặn."])
        elif f == "hoat_dong":
            acts = list(data.get(f) or [])[-5:]
            acts.append(
                {"ngay": _date(rng), "noi_dung": rng.choice(ACTIVITIES), "so_nguoi_tham_gia": 9}
            )
            data[f] = acts
        else:
            data[f] = rng.sample(MH_FIELDS, rng.randint(1, 3))


@dataclass
class Known:
    """A record as this phone knows it: the heads and data its next edit starts from."""

    form_id: str
    version: int
    heads: list[str]
    data: dict[str, Any]
    revision: int


class PulledRecord(msgspec.Struct):
    record_id: str
    form_id: str
    form_version: int
    heads: list[str]
    revision: int
    data: dict[str, Any]


class PulledPage(msgspec.Struct):
    records: list[PulledRecord]
    next: str
    more: bool


class ItemAnswer(msgspec.Struct):
    id: str | None
    status: str
    record_id: str | None = None
    errors: Any = None
    reason: str | None = None


class PushAnswer(msgspec.Struct):
    results: list[ItemAnswer]


class Phone(Actor):
    def __init__(
        self, n: int, url: str, token: str, area: str, seed: int, deadline: float, think: float
    ) -> None:
        super().__init__(url, token)
        self.rng = random.Random(seed * 100_003 + n)
        self.n, self.area, self.deadline, self.think = n, area, deadline, think
        self.device_id = f"soak-phone-{n:03d}"
        self.old_app = n % 10 == 9  # still fills hoa_giai v1, edits only its own records
        self.clock = 2 * 24 * 60 if n == 7 else self.rng.randint(-120, 120)  # minutes off
        self.encoding = ("json", "gzip", "msgpack")[n % 3]
        self.outbox: list[dict[str, Any]] = []
        self.retry: list[dict[str, Any]] | None = None  # a batch to send again, unchanged
        self.discarded: dict[str, str] = {}  # id -> status in an answer we threw away
        self.unacked: Counter[str] = Counter()  # record id -> items in the outbox
        self.own: collections.OrderedDict[str, Known] = collections.OrderedDict()
        self.shared: collections.OrderedDict[str, Known] = collections.OrderedDict()
        self.cursor: str | None = None

    # the work of an officer, offline

    def edit(self) -> None:
        rng = self.rng
        roll = rng.random()
        if roll < 0.4 or not (self.own or self.shared):
            self.create()
        elif roll < 0.7 and self.shared and not self.old_app:
            self.change(rng.choice(list(self.shared)), self.shared)
        elif self.own:
            self.change(rng.choice(list(self.own)[-OWN_KEEP:]), self.own)
        else:
            self.create()

    def create(self) -> None:
        rng = self.rng
        if rng.random() < 0.6:
            form, version = "hoa_giai", 1 if self.old_app else 2
            data = new_hoa_giai(rng, version)
        else:
            form, version, data = "mo_hinh", 1, new_mo_hinh(rng)
        sid = uuid7(rng)
        item = self.item(sid, form, version, sid if rng.random() < 0.5 else None, [], data)
        self.remember(self.own, sid, Known(form, version, [sid], data, 1), OWN_KEEP)
        self.queue(item, sid)

    def change(self, rid: str, where: collections.OrderedDict[str, Known]) -> None:
        known = where[rid]
        data = dict(known.data)
        if known.form_id == "hoa_giai":
            edit_hoa_giai(self.rng, data, known.version)
        else:
            edit_mo_hinh(self.rng, data)
        sid = uuid7(self.rng)
        item = self.item(sid, known.form_id, known.version, rid, known.heads, data)
        known.heads = [sid]
        known.data = {k: v for k, v in data.items() if v is not None}
        known.revision += 1
        if known.revision >= REVISION_CAP:
            del where[rid]  # the case is closed
        self.queue(item, rid)

    def item(
        self,
        sid: str,
        form: str,
        version: int,
        rid: str | None,
        parents: list[str],
        data: dict[str, Any],
    ) -> dict[str, Any]:
        return {
            "id": sid,
            "form_id": form,
            "form_version": version,
            "record_id": rid,
            "parents": list(parents),
            "captured_at": now(self.clock),
            "data": data,
        }

    def queue(self, item: dict[str, Any], rid: str) -> None:
        self.outbox.append(item)
        self.unacked[rid] += 1

    @staticmethod
    def remember(
        where: collections.OrderedDict[str, Known], rid: str, known: Known, keep: int
    ) -> None:
        where[rid] = known
        where.move_to_end(rid)
        while len(where) > keep:
            where.popitem(last=False)

    # syncing

    def pull(self) -> None:
        for _ in range(10):  # at most 10 pages a cycle; the cursor carries on next time
            params = {"limit": 500, **({"since": self.cursor} if self.cursor else {})}
            r = self.call("phone pull", "GET", "/api/v1/sync/pull", params=params)
            if r is None or r.status_code != 200:
                return
            page = msgspec.json.decode(r.content, type=PulledPage)
            self.stats.pulled += len(page.records)
            self.cursor = page.next
            if not self.old_app:
                for rec in page.records:
                    self.learn(rec)
            if not page.more:
                return

    def learn(self, rec: PulledRecord) -> None:
        if self.unacked[rec.record_id]:
            return  # our own edit is on its way: keep building on it
        known = Known(rec.form_id, rec.form_version, rec.heads, rec.data, rec.revision)
        for where in (self.own, self.shared):
            if rec.record_id in where:
                if rec.revision >= REVISION_CAP:
                    del where[rec.record_id]
                else:
                    where[rec.record_id] = known
                return
        if rec.revision < REVISION_CAP:
            self.remember(self.shared, rec.record_id, known, SHARED_KEEP)

    def body(self, batch: list[dict[str, Any]]) -> tuple[bytes, dict[str, str]]:
        envelope = {"device_id": self.device_id, "submissions": batch}
        if self.encoding == "msgpack":
            return msgspec.msgpack.encode(envelope), {"Content-Type": "application/msgpack"}
        raw = msgspec.json.encode(envelope)
        if self.encoding == "gzip":
            return gzip.compress(raw, 1), {
                "Content-Type": "application/json",
                "Content-Encoding": "gzip",
            }
        return raw, {"Content-Type": "application/json"}

    def push(self, faults: bool = True) -> None:
        rng = self.rng
        if self.retry is not None:
            batch, resent = self.retry, True
        else:
            size = min(rng.randint(1, 200), len(self.outbox))
            if size == 0:
                return
            # sometimes a random sample, out of order: children may go before parents
            batch = rng.sample(self.outbox, size) if rng.random() < 0.15 else self.outbox[:size]
            resent = False
        roll = rng.random() if faults else 1.0
        content, headers = self.body(batch)
        r = self.call(
            "push", "POST", "/api/v1/sync/push", content=content, headers=headers,
            abort=roll < DROP_ABORT,
        )  # fmt: skip
        if r is None:
            self.retry = batch
            return
        if r.status_code != 200:
            self.retry = batch  # a violation is already counted; try again later
            return
        answer = msgspec.json.decode(r.content, type=PushAnswer)
        if len(answer.results) != len(batch):
            self.stats.violations.append(
                f"push: {len(answer.results)} results for {len(batch)} items"
            )
            self.retry = batch
            return
        if roll < DROP_ABORT + DROP_READ:
            # the answer is lost on the way back: the phone saw nothing and sends it again
            self.stats.events["push answers discarded"] += 1
            for item, res in zip(batch, answer.results, strict=True):
                self.discarded[item["id"]] = res.status
            self.retry = batch
            return
        self.settle(batch, answer.results, resent)

    def settle(self, batch: list[dict[str, Any]], results: list[ItemAnswer], resent: bool) -> None:
        stats, done = self.stats, set()
        in_load = time.monotonic() < self.deadline
        for item, res in zip(batch, results, strict=True):
            sid = item["id"]
            stats.statuses[res.status] += 1
            if res.id != sid:
                stats.violations.append(f"push: result for {res.id} where {sid} was sent")
            before = self.discarded.pop(sid, None)
            if resent and before in NEW_ACK and res.status != "duplicate":
                stats.violations.append(
                    f"push: {sid} was {before} in a discarded answer, {res.status} when resent"
                )
            if res.status in ACKED:
                rid = item["record_id"] or sid
                if res.record_id != rid:
                    stats.violations.append(f"push: {sid} acknowledged for record {res.record_id}")
                stats.acked[sid] = rid
                if res.status in NEW_ACK:
                    stats.new_acks[sid] += 1
                    stats.new_in_load += in_load
            else:
                stats.violations.append(
                    f"push: {sid} {res.status} {res.reason}: {json.dumps(res.errors)[:300]}"
                )
            done.add(sid)
            self.unacked[item["record_id"] or sid] -= 1
        self.outbox = [i for i in self.outbox if i["id"] not in done]
        self.retry = None

    def run(self) -> None:
        try:
            self.pull()
            while time.monotonic() < self.deadline:
                if self.retry is None:
                    if self.rng.random() < 0.2:
                        self.pull()
                    # mostly a few edits between syncs; sometimes a day offline
                    many = self.rng.random() < 0.08
                    for _ in range(self.rng.randint(50, 250) if many else self.rng.randint(1, 20)):
                        self.edit()
                self.push()
                time.sleep(self.rng.uniform(0, self.think))
            for _ in range(FLUSH_ATTEMPTS):  # back in coverage: send everything, no faults
                if not self.outbox:
                    break
                self.push(faults=False)
            if self.outbox:
                self.stats.violations.append(
                    f"{self.device_id}: {len(self.outbox)} items never acknowledged"
                )
        except Exception as exc:  # a bug in the soak itself is a violation too
            self.stats.violations.append(f"{self.device_id} crashed: {exc!r}")
            raise


# --- supervisors -----------------------------------------------------------------------


class SlimRecord(msgspec.Struct):
    record_id: str
    heads: list[str]
    conflicts: list[Any]


class RawPage(msgspec.Struct):
    records: list[msgspec.Raw]
    next: str
    more: bool


class Supervisor(Actor):
    def __init__(self, name: str, url: str, token: str, area: str, seed: int) -> None:
        super().__init__(url, token)
        self.name, self.area = name, area
        self.rng = random.Random(f"{seed}:{name}")
        self.cursor: str | None = None
        self.seen: dict[str, bytes] = {}  # record id -> the document as last pulled
        self.conflicted: set[str] = set()

    def pull_all(self) -> None:
        for _ in range(10_000):
            params: dict[str, Any] = {"limit": self.rng.choice([50, 200, 500, 1000])}
            if self.cursor:
                params["since"] = self.cursor
            r = self.call("supervisor pull", "GET", "/api/v1/records", params=params)
            if r is None or r.status_code != 200:
                return
            page = msgspec.json.decode(r.content, type=RawPage)
            self.stats.pulled += len(page.records)
            for raw in page.records:
                slim = msgspec.json.decode(raw, type=SlimRecord)
                self.seen[slim.record_id] = bytes(raw)
                if slim.conflicts:
                    self.conflicted.add(slim.record_id)
                else:
                    self.conflicted.discard(slim.record_id)
            self.cursor = page.next
            if not page.more:
                return
        self.stats.violations.append(f"{self.name}: the pull never reached more=false")

    def resolve(self, rid: str) -> None:
        rec = msgspec.json.decode(self.seen[rid])
        for _ in range(4):
            values = {}
            for c in rec["conflicts"]:
                options = [v["value"] for v in c["values"] if v["value"] is not None]
                if options:
                    values[c["field"]] = self.rng.choice(options)
            if not values:
                return
            body = {"heads": rec["heads"], "values": values, "note": f"soak: {self.name}"}
            r = self.call(
                "resolve", "POST", f"/api/v1/records/{rid}/resolve", json=body, expect=(200, 409)
            )
            if r is None or r.status_code == 200:
                self.stats.events["resolutions"] += r is not None
                return
            if r.status_code != 409:
                return
            self.stats.events["resolve: 409 stale heads"] += 1
            g = self.call("record", "GET", f"/api/v1/records/{rid}")
            if g is None or g.status_code != 200:
                return
            rec = g.json()
            if not rec["conflicts"]:
                return
        self.stats.events["resolve: gave up after 4 tries"] += 1

    def run(self, deadline: float) -> None:
        try:
            while time.monotonic() < deadline:
                self.pull_all()
                pick = sorted(self.conflicted)
                for rid in self.rng.sample(pick, min(8, len(pick))):
                    self.resolve(rid)
                time.sleep(0.2)
        except Exception as exc:
            self.stats.violations.append(f"{self.name} crashed: {exc!r}")
            raise


# --- the server ------------------------------------------------------------------------


def server_log(path: Path) -> tuple[Counter[int], list[str]]:
    """Statuses in the server's access log, and lines that tell of an error."""
    statuses: Counter[int] = Counter()
    errors: list[str] = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        if "coso.access" in line and "{" in line:
            with contextlib.suppress(ValueError, KeyError):
                statuses[int(json.loads(line[line.index("{") :])["status"])] += 1
        elif "Traceback" in line or "ERROR" in line or "unhandled error" in line:
            errors.append(line[:300])
    return statuses, errors


# --- the checks ------------------------------------------------------------------------


def _rows(conn: sqlite3.Connection, sql: str, args: Any = ()) -> list[tuple[Any, ...]]:
    return conn.execute(sql, args).fetchall()


def check_stored(conn: sqlite3.Connection, acked: dict[str, str], stats: Stats) -> list[str]:
    """(a) every acknowledged item is stored exactly once, in its record."""
    out: list[str] = []
    ids = list(acked)
    stored: dict[str, tuple[str, int]] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        marks = ",".join("?" * len(chunk))
        sql = f"SELECT id, min(record_id), count(*) FROM submissions WHERE id IN ({marks}) GROUP BY id"  # noqa: S608, E501
        for sid, rid, n in _rows(conn, sql, chunk):
            stored[sid] = (rid, n)
    for sid, rid in acked.items():
        got = stored.get(sid)
        if got is None:
            out.append(f"(a) acknowledged {sid} is not in the database")
        elif got[1] != 1:
            out.append(f"(a) acknowledged {sid} is stored {got[1]} times")
        elif got[0] != rid:
            out.append(f"(a) acknowledged {sid} is stored in record {got[0]}, not {rid}")
    out += [
        f"(a) {sid} acknowledged as new {n} times" for sid, n in stats.new_acks.items() if n > 1
    ]
    return out


def _comparable(doc: dict[str, Any]) -> dict[str, Any]:
    """A record without what depends on arrival time (when it changed, when it began)."""
    return {k: v for k, v in doc.items() if k not in ("updated_at", "created_at")}


def replay(conn: sqlite3.Connection, seed: int) -> tuple[list[str], float, int]:
    """(c) push every stored submission into a fresh database in another order; compare.
    Returns the violations, the replay's rate (items/s) and the number of items."""
    out: list[str] = []
    users = {
        uid: (User(uid, name, role, area), thash, at)
        for uid, name, role, area, thash, at in _rows(
            conn, "SELECT id, name, role, area, token_hash, created_at FROM users"
        )
    }
    columns = ", ".join(SUBMISSION_COLUMNS)
    rows = _rows(conn, f"SELECT {columns} FROM submissions ORDER BY id")  # noqa: S608
    col = {c: i for i, c in enumerate(SUBMISSION_COLUMNS)}
    by_device: dict[tuple[int, str], list[bytes]] = collections.defaultdict(list)
    per_record: Counter[str] = Counter()
    for row in rows:
        per_record[row[col["record_id"]]] += 1
        item = {
            "id": row[col["id"]],
            "form_id": row[col["form_id"]],
            "form_version": row[col["form_version"]],
            "record_id": row[col["record_id"]],
            "parents": json.loads(row[col["parents"]]),
            "captured_at": row[col["captured_at"]],
            "data": json.loads(row[col["data"]]),
            "resolves": json.loads(row[col["resolves"]]),
        }
        by_device[(row[col["user_id"]], row[col["device_id"]])].append(msgspec.json.encode(item))
    rng = random.Random(seed)
    batches: list[tuple[User, str, list[bytes]]] = []
    for (uid, device), items in sorted(by_device.items()):
        rng.shuffle(items)
        while items:
            k = rng.randint(1, 500)
            batches.append((users[uid][0], device, items[:k]))
            items = items[k:]
    rng.shuffle(batches)

    fresh = Store(":memory:")
    try:
        with fresh.write() as w:
            for uid in sorted(users):
                user, thash, at = users[uid]
                got = w.add_user(user.name, user.role, user.area, thash, at)
                assert got == uid, (got, uid)
        catalog = Catalog(fresh)
        publish_files(catalog, schema_files(ROOT / "schemas"))
        started = time.perf_counter()
        statuses: Counter[str] = Counter()
        for user, device, items in batches:
            for res in sync.push(fresh, catalog, user, device, items):
                statuses[res.status] += 1
                if res.status == "rejected":
                    out.append(f"(c) replay rejected {res.id}: {res.reason} {res.errors}")
        rate = len(rows) / (time.perf_counter() - started)
        if statuses["duplicate"]:
            out.append(f"(c) replay saw {statuses['duplicate']} duplicates among stored ids")
        with fresh.read() as rc:
            again = dict(rc.execute("SELECT record_id, doc FROM records").fetchall())
    finally:
        fresh.close()

    served = dict(_rows(conn, "SELECT record_id, doc FROM records"))
    for rid in sorted(served.keys() - again.keys()):
        out.append(f"(c) record {rid} is on the server but not in the replay")
    for rid in sorted(again.keys() - served.keys()):
        out.append(f"(c) record {rid} is in the replay but not on the server")
    for rid in sorted(served.keys() & again.keys()):
        a, b = json.loads(served[rid]), json.loads(again[rid])
        a, b = _comparable(a), _comparable(b)
        if a != b:
            diff = sorted(k for k in a.keys() | b.keys() if a.get(k) != b.get(k))
            out.append(f"(c) record {rid} differs from its replay in {diff}")
        if a["revision"] != per_record[rid]:
            out.append(
                f"(c) record {rid} merges {a['revision']} of its {per_record[rid]} submissions"
                " (some stay pending)"
            )
    for rid in sorted(per_record.keys() - served.keys()):
        out.append(f"(c) submissions of {rid} have no record (all pending)")
    return out, rate, len(rows)


def check_supervisor(conn: sqlite3.Connection, sup: Supervisor) -> list[str]:
    """(d) the supervisor's last pull holds exactly the stored document of every record of
    its area."""
    from server import areas

    out: list[str] = []
    served = {
        rid: doc
        for rid, area, doc in _rows(conn, "SELECT record_id, area, doc FROM records")
        if areas.contains(sup.area, area)
    }
    missing = served.keys() - sup.seen.keys()
    stale = [
        rid for rid in served.keys() & sup.seen.keys() if served[rid].encode() != sup.seen[rid]
    ]
    foreign = sup.seen.keys() - served.keys()
    if missing:
        out.append(f"(d) {sup.name} never pulled {len(missing)} records, e.g. {min(missing)}")
    if stale:
        out.append(f"(d) {sup.name} holds an old state of {len(stale)} records, e.g. {min(stale)}")
    if foreign:
        out.append(f"(d) {sup.name} pulled {len(foreign)} records outside its area")
    return out


# --- the run -----------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5))) - 1]


@dataclass
class Report:
    config: Config
    load_seconds: float = 0.0
    flush_seconds: float = 0.0
    stats: Stats = field(default_factory=Stats)
    stored: int = 0
    records: int = 0
    conflicted_records: int = 0
    replay_rate: float = 0.0
    server_statuses: Counter[int] = field(default_factory=Counter)
    violations: list[str] = field(default_factory=list)

    @property
    def throughput(self) -> float:
        return self.stats.new_in_load / self.load_seconds if self.load_seconds else 0.0

    def latency_ms(self, kind: str, q: float) -> float:
        return percentile(self.stats.latency.get(kind, []), q) * 1000

    def lines(self) -> list[str]:
        s, c = self.stats, self.config
        out = [
            f"soak: {c.phones} phones, {c.seconds:g} s, seed {c.seed}; "
            f"load {self.load_seconds:.1f} s + flush {self.flush_seconds:.1f} s",
            f"throughput: {self.throughput:,.0f} new submissions/s acknowledged during the load "
            f"({s.new_in_load:,} items); {self.stored:,} stored in {self.records:,} records, "
            f"{self.conflicted_records:,} with open conflicts at the end",
        ]
        for kind in ("push", "phone pull", "supervisor pull", "resolve", "record"):
            lat = s.latency.get(kind, [])
            if lat:
                out.append(
                    f"  {kind:<16} {len(lat):>7,} requests  p50 {self.latency_ms(kind, 50):7.1f} ms"
                    f"  p99 {self.latency_ms(kind, 99):7.1f} ms"
                )
        out.append("statuses: " + ", ".join(f"{k} {v:,}" for k, v in sorted(s.statuses.items())))
        out.append("events: " + ", ".join(f"{k} {v:,}" for k, v in sorted(s.events.items())))
        out.append(
            "HTTP: "
            + ", ".join(f"{k} {n}: {v:,}" for (k, n), v in sorted(s.http.items()))
            + "; server access log: "
            + ", ".join(f"{n}: {v:,}" for n, v in sorted(self.server_statuses.items()))
        )
        out.append(
            f"records pulled: {s.pulled:,}; replay in-process: {self.replay_rate:,.0f} items/s"
        )
        if self.violations:
            out.append(f"VIOLATIONS ({len(self.violations)}):")
            out += [f"  {v}" for v in self.violations[:50]]
            if len(self.violations) > 50:
                out.append(f"  ... and {len(self.violations) - 50} more")
        else:
            out.append(
                "no violations: (a) acknowledged = stored once, (b) no 5xx, "
                "(c) records = replay, (d) supervisors' pulls = final state"
            )
        return out

    def rows(self) -> list[dict[str, Any]]:
        c = self.config
        return [
            {
                "benchmark": f"soak: {c.phones} phones, faults, shared edits, {c.seconds:g} s",
                "figure": self.throughput,
                "baseline": self.replay_rate,
                "unit": "items/s",
                "baseline_name": "replay of the stored submissions through sync.push in-process",
                "note": (
                    f"push p50 {self.latency_ms('push', 50):.0f} ms p99 "
                    f"{self.latency_ms('push', 99):.0f} ms; supervisor pull p50 "
                    f"{self.latency_ms('supervisor pull', 50):.0f} ms; "
                    f"{len(self.violations)} violations"
                ),
            }
        ]


def run(cfg: Config) -> Report:
    report = Report(cfg)
    with contextlib.ExitStack() as stack:
        if cfg.workdir is None:
            work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="coso-soak-")))
        else:
            work = cfg.workdir
            work.mkdir(parents=True, exist_ok=True)
        db, log_path = work / "soak.db", work / "server.log"
        for p in (db, Path(f"{db}-wal"), Path(f"{db}-shm"), log_path):  # the log is appended to
            p.unlink(missing_ok=True)
        sup_specs = [("giam-sat-tinh", PROVINCE), ("giam-sat-phuong", COMMUNES[0])]
        sup_tokens = [cli_add_user(db, name, "supervisor", area) for name, area in sup_specs]
        store = Store(db)
        try:
            officers = [
                (COMMUNES[i % len(COMMUNES)], add_user(store, f"can-bo-{i:03d}", "officer",
                                                       COMMUNES[i % len(COMMUNES)])[1])
                for i in range(cfg.phones)
            ]  # fmt: skip
        finally:
            store.close()

        with running_server(db, log_path, stop_signal=signal.SIGINT, stop_timeout=30) as srv:
            url = srv.url
            started = time.monotonic()
            deadline = started + cfg.seconds
            phones = [
                Phone(i, url, token, area, cfg.seed, deadline, cfg.think)
                for i, (area, token) in enumerate(officers)
            ]
            sups = [
                Supervisor(name, url, token, area, cfg.seed)
                for (name, area), token in zip(sup_specs, sup_tokens, strict=True)
            ]
            threads = [threading.Thread(target=p.run, name=p.device_id) for p in phones]
            threads += [threading.Thread(target=s.run, args=(deadline,), name=s.name) for s in sups]
            try:
                for t in threads:
                    t.start()
                for t in threads:
                    t.join()
                report.load_seconds = cfg.seconds
                report.flush_seconds = time.monotonic() - deadline
                for s in sups:  # the last pull, after every phone is done
                    s.pull_all()
            finally:
                for a in [*phones, *sups]:
                    a.close()
        for a in [*phones, *sups]:
            report.stats.merge(a.stats)
        report.violations += report.stats.violations

        statuses, errors = server_log(log_path)
        report.server_statuses = statuses
        fives = {n: v for n, v in statuses.items() if n >= 500}
        fives_seen = {n: v for (_, n), v in report.stats.http.items() if n >= 500}
        if fives or fives_seen:
            report.violations.append(f"(b) 5xx answers: server log {fives}, clients {fives_seen}")
        report.violations += [f"(b) server log: {line}" for line in errors[:20]]

        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        try:
            report.violations += check_stored(conn, report.stats.acked, report.stats)
            found, report.replay_rate, report.stored = replay(conn, cfg.seed)
            report.violations += found
            for s in sups:
                report.violations += check_supervisor(conn, s)
            report.records, report.conflicted_records = conn.execute(
                "SELECT count(*), coalesce(sum(has_conflicts), 0) FROM records"
            ).fetchone()
        finally:
            conn.close()
    return report


def parse(argv: list[str] | None = None) -> tuple[Config, argparse.Namespace]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=None, help="load time (default 60)")
    parser.add_argument("--phones", type=int, default=None, help="simulated phones (default 50)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--quick", action="store_true", help="15 s, 20 phones (for CI)")
    parser.add_argument("--json", action="store_true", help="print the rows as one JSON line")
    parser.add_argument("--keep", type=Path, default=None, help="work in this directory, keep it")
    args = parser.parse_args(argv)
    seconds = args.seconds if args.seconds is not None else (15.0 if args.quick else 60.0)
    phones = args.phones if args.phones is not None else (20 if args.quick else 50)
    return Config(seconds=seconds, phones=phones, seed=args.seed, workdir=args.keep), args


def results(quick: bool = False) -> list[dict[str, Any]]:
    """Rows for bench.run."""
    cfg, _ = parse(["--quick"] if quick else [])
    return run(cfg).rows()


def main(argv: list[str] | None = None) -> int:
    cfg, args = parse(argv)
    report = run(cfg)
    if args.json:
        print(msgspec.json.encode(report.rows()).decode())
    else:
        print("\n".join(report.lines()))
    return 1 if report.violations else 0


if __name__ == "__main__":
    sys.exit(main())
