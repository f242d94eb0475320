"""A publish that renames a field derives the form's records anew in short transactions, not
one that holds every other writer; records it has not reached yet (or that a crash left
behind) are never merged wrongly, and the server finishes them when it starts."""

from __future__ import annotations

import csv
import io
import logging
import random
import sqlite3
import time
from pathlib import Path
from typing import Any

import msgspec
import pytest
from litestar.testing import TestClient

from server import catalog as catalog_module
from server import derive, sync
from server.app import ROOT, Settings, create_app
from server.auth import add_user
from server.catalog import Catalog, publish_files, schema_files
from server.form_source import read_source
from server.forms import parse_definition
from server.store import Store
from server.store_schema import DERIVE_RULES
from tests.support import hoa_giai, latest_version, submission

LATEST = latest_version("hoa_giai")  # what the records are pushed on
NEXT = LATEST + 1  # the renaming version the tests publish
SHIPPED = (ROOT / "schemas" / f"hoa_giai.v{LATEST}.yaml").read_text("utf-8")
RENAMING = SHIPPED.replace(
    "  - name: hoa_giai_vien\n", "  - name: to_hoa_giai\n    previous_names: [hoa_giai_vien]\n", 1
)


def setup(path: Path, n: int) -> tuple[Store, Catalog, Any, list[dict[str, Any]]]:
    store = Store(path)
    catalog = Catalog(store)
    publish_files(catalog, schema_files(ROOT / "schemas"))
    user, _ = add_user(store, "officer", "officer", "01.00070")
    rng = random.Random(5)
    items = [submission("hoa_giai", hoa_giai(rng), version=LATEST) for _ in range(n)]
    results = sync.push(store, catalog, user, "phone", [msgspec.json.encode(i) for i in items])
    assert {r.status for r in results} == {"accepted"}
    return store, catalog, user, items


def doc(store: Store, record_id: str) -> dict[str, Any]:
    row = store.record(record_id)
    assert row is not None
    return msgspec.json.decode(row.doc)  # type: ignore[no-any-return]


def publish_renaming(catalog: Catalog) -> None:
    catalog.publish(parse_definition(read_source(RENAMING, f"hoa_giai.v{NEXT}.yaml")), None, "cli")


def test_a_renaming_publish_derives_its_records_a_few_at_a_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store, catalog, _, items = setup(tmp_path / "coso.db", 25)
    monkeypatch.setattr(catalog_module, "REDERIVE_CHUNK", 10)
    sizes: list[int] = []
    rebuild = derive.rebuild

    def counted(w: Any, ids: Any, *args: Any, **kwargs: Any) -> Any:
        sizes.append(len(ids))
        return rebuild(w, ids, *args, **kwargs)

    monkeypatch.setattr(derive, "rebuild", counted)
    publish_renaming(catalog)
    assert sizes == [10, 10, 5]  # three transactions, not one
    for item in items:
        record = doc(store, item["id"])
        assert record["form_version"] == NEXT
        assert "to_hoa_giai" in record["data"] and "hoa_giai_vien" not in record["data"]
    store.close()


def test_a_record_not_reached_yet_is_merged_afresh_by_an_edit_and_finished_later(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store, catalog, user, items = setup(tmp_path / "coso.db", 3)
    # the publish stops before deriving anything (a crash between its transactions)
    monkeypatch.setattr(Catalog, "rederive", lambda self, form_id, below: 0)
    publish_renaming(catalog)
    monkeypatch.undo()
    first = items[0]
    assert "hoa_giai_vien" in doc(store, first["id"])["data"]  # still the old names
    edit = submission(
        "hoa_giai",
        {"to_hoa_giai": "Lê Thị Hoa"},
        version=NEXT,
        record_id=first["id"],
        parents=[first["id"]],
    )
    [result] = sync.push(store, catalog, user, "phone", [msgspec.json.encode(edit)])
    assert result.status == "accepted"
    record = doc(store, first["id"])
    assert record["form_version"] == NEXT
    assert record["data"]["to_hoa_giai"] == "Lê Thị Hoa"
    assert "hoa_giai_vien" not in record["data"]  # merged afresh, not the old state patched
    assert catalog.finish_rederive() == 2  # the two records no edit touched
    for item in items[1:]:
        assert "hoa_giai_vien" not in doc(store, item["id"])["data"]
    assert catalog.finish_rederive() == 0
    store.close()


def test_the_server_finishes_a_renaming_publish_when_it_starts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "coso.db"
    store, catalog, _, items = setup(db, 4)
    with monkeypatch.context() as m:
        m.setattr(Catalog, "rederive", lambda self, form_id, below: 0)
        publish_renaming(catalog)
    store.close()
    with TestClient(create_app(Settings(db=str(db)))) as client:
        store = client.app.state.store
        assert client.get("/healthz").status_code == 200  # it answers meanwhile
        deadline = time.monotonic() + 20  # the start derives them beside the requests
        while time.monotonic() < deadline:
            versions = [doc(store, item["id"])["form_version"] for item in items]
            if versions == [NEXT] * len(items):
                break
            time.sleep(0.05)
        for item in items:
            assert "to_hoa_giai" in doc(store, item["id"])["data"]


@pytest.mark.parametrize(
    "path", ["/api/v1/forms", "/api/v1/records", "/api/v1/records/{id}", "/api/v1/conflicts"]
)
def test_a_running_server_finishes_a_renaming_publish_stopped_elsewhere(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, path: str
) -> None:
    """`coso forms publish` is killed half-way while the server runs: the server sees the new
    version at its next request and derives the rest, without a restart; a supervisor's who
    only reads records too (which kept the old names until a phone synced)."""
    db = tmp_path / "coso.db"
    store, _, _, items = setup(db, 4)
    store.close()
    with TestClient(create_app(Settings(db=str(db)))) as client:
        served = client.app.state.store
        cli_store = Store(db)
        try:
            with monkeypatch.context() as m:
                m.setattr(Catalog, "rederive", lambda self, form_id, below: 0)
                publish_renaming(Catalog(cli_store))
        finally:
            cli_store.close()
        assert doc(served, items[0]["id"])["form_version"] == LATEST  # nothing derived yet
        token = add_user(served, "sup", "supervisor", "01")[1]
        asked = path.format(id=items[0]["id"])
        r = client.get(asked, headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 200
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if all(doc(served, i["id"])["form_version"] == NEXT for i in items):
                break
            time.sleep(0.05)
        for item in items:
            record = doc(served, item["id"])
            assert record["form_version"] == NEXT
            assert "to_hoa_giai" in record["data"]


def test_a_renaming_publish_the_disk_cuts_short_is_published_and_finished_once_there_is_room(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The disk full while a publish over the API derived its records: the admin was told 503
    "nothing was stored" while the version was published, and the rest was never derived (the
    catch-up thread died with a traceback; publishing again was a no-op). The publish is 201,
    the operator reads one line, and the server finishes once there is room."""
    db = tmp_path / "coso.db"
    store, _, _, items = setup(db, 4)
    store.close()
    monkeypatch.setattr(catalog_module, "RETRY_SECONDS", 0)
    with TestClient(create_app(Settings(db=str(db)))) as client:
        served = client.app.state.store
        admin = {"Authorization": f"Bearer {add_user(served, 'qt', 'admin', '')[1]}"}
        with monkeypatch.context() as m:

            def full(*args: Any, **kwargs: Any) -> Any:
                raise sqlite3.OperationalError("database or disk is full")

            m.setattr(derive, "rebuild", full)
            said: list[str] = []
            heard = logging.Handler()
            heard.emit = lambda record: said.append(record.getMessage())  # type: ignore[method-assign]
            logging.getLogger("coso").addHandler(heard)
            try:
                r = client.post(
                    "/api/v1/forms",
                    content=RENAMING.encode(),
                    headers={**admin, "Content-Type": "application/yaml"},
                )
            finally:
                logging.getLogger("coso").removeHandler(heard)
            assert r.status_code == 201, r.text
            assert r.json()["version"] == NEXT
            assert doc(served, items[0]["id"])["form_version"] == LATEST  # not derived yet
        [line, *_] = [m for m in said if "CHƯA CẬP NHẬT XONG HỒ SƠ" in m]
        assert "database or disk is full" in line
        # room again: the next request tries once more
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            assert client.get("/api/v1/forms", headers=admin).status_code == 200
            if all(doc(served, i["id"])["form_version"] == NEXT for i in items):
                break
            time.sleep(0.05)
        for item in items:
            assert "to_hoa_giai" in doc(served, item["id"])["data"]


def test_records_an_older_coso_derived_are_derived_anew_under_todays_rules(
    tmp_path: Path,
) -> None:
    """An older coso kept a select_multiple in the order it was ticked: two phones ticking
    the same boxes in another order left a conflict, and its stored state kept it after an
    upgrade (a new edit carried it on). At the start, every record is derived anew under this
    coso's rules (store_schema.DERIVE_RULES), stored submissions read in today's spelling;
    records that come out the same are not written again."""
    path = tmp_path / "coso.db"
    store = Store(path)
    catalog = Catalog(store)
    publish_files(catalog, schema_files(ROOT / "schemas"))
    user, _ = add_user(store, "officer", "officer", "01.00070")
    model = {
        "ten_mo_hinh": "Camera an ninh tổ 5",
        "loai_mo_hinh": "tu_quan",
        "linh_vuc_hoat_dong": ["phong_chong_toi_pham"],
        "nguoi_phu_trach": "Nguyễn Văn Bình",
    }
    root = submission("mo_hinh", model, version=1)
    other = submission("mo_hinh", {**model, "ten_mo_hinh": "Tổ liên gia"}, version=1)
    ticked = ["khac", "camera_an_ninh"]
    a, b = (
        submission("mo_hinh", {"linh_vuc_hoat_dong": list(t)}, version=1,
                   record_id=root["id"], parents=[root["id"]])
        for t in (ticked, ticked[::-1])
    )  # fmt: skip
    encoded = [msgspec.json.encode(i) for i in (root, other, a, b)]
    assert {r.status for r in sync.push(store, catalog, user, "phone", encoded)} == {"accepted"}
    # What an older coso left: b's data as ticked, the record derived from it without today's
    # order (a conflict), and no rules recorded.
    with store.write() as w:
        w.conn.execute(
            "UPDATE submissions SET data = ? WHERE id = ?",
            [msgspec.json.encode({"linh_vuc_hoat_dong": ticked}).decode(), b["id"]],
        )
        w.conn.execute(
            "UPDATE submissions SET data = ? WHERE id = ?",
            [msgspec.json.encode({"linh_vuc_hoat_dong": ticked[::-1]}).decode(), a["id"]],
        )
        fv = catalog.get("mo_hinh")
        assert fv is not None
        derive.rebuild(w, [root["id"]], {"mo_hinh": (fv.renames, fv.latest, {})}, "then")
        w.conn.execute("DELETE FROM meta WHERE key = 'derive_rules'")
    assert [c["field"] for c in doc(store, root["id"])["conflicts"]] == ["linh_vuc_hoat_dong"]
    untouched = store.record(other["id"])
    store.close()

    upgraded = Store(path)
    assert upgraded.derive_rules() == 1
    assert Catalog(upgraded).finish_rederive() == 2
    record = doc(upgraded, root["id"])
    assert record["conflicts"] == []
    assert record["data"]["linh_vuc_hoat_dong"] == ["camera_an_ninh", "khac"]  # the form's order
    assert upgraded.record(other["id"]) == untouched  # the same: not written, not pulled again
    assert upgraded.derive_rules() == DERIVE_RULES
    assert Catalog(upgraded).finish_rederive() == 0  # once


def test_a_null_an_older_coso_kept_in_a_repeat_item_is_no_conflict_after_the_upgrade(
    tmp_path: Path,
) -> None:
    """An older coso kept `"so_dien_thoai": null` inside a party of a mediation case: two
    phones sending the same parties, one with that null, conflicted. Derived anew at the
    upgrade, the item is read without it, as today's push stores it, in a form with no
    select_multiple too (found by an upgrade probe: only forms with one were read so)."""
    path = tmp_path / "coso.db"
    store = Store(path)
    catalog = Catalog(store)
    publish_files(catalog, schema_files(ROOT / "schemas"))
    user, _ = add_user(store, "officer", "officer", "01.00070")
    case = hoa_giai(random.Random(3))
    parties = [{"ho_ten": "Nguyễn Văn X", "vai_tro": "ben_yeu_cau"},
               {"ho_ten": "Lê Thị Y", "vai_tro": "ben_con_lai", "gioi_tinh": "nu"}]  # fmt: skip
    root = submission("hoa_giai", {**case, "cac_ben": parties}, version=LATEST)
    moved = [{**parties[0], "dia_chi": "Tổ 5"}, parties[1]]
    a, b = (
        submission("hoa_giai", {"cac_ben": moved}, version=LATEST,
                   record_id=root["id"], parents=[root["id"]])
        for _ in range(2)
    )  # fmt: skip
    encoded = [msgspec.json.encode(i) for i in (root, a, b)]
    assert {r.status for r in sync.push(store, catalog, user, "phone", encoded)} == {"accepted"}
    # What an older coso left: b's party with the null, the record derived from it as it was
    # (a conflict), and no rules recorded.
    with_null = [moved[0], {**moved[1], "so_dien_thoai": None}]
    with store.write() as w:
        w.conn.execute(
            "UPDATE submissions SET data = ? WHERE id = ?",
            [msgspec.json.encode({"cac_ben": with_null}).decode(), b["id"]],
        )
        fv = catalog.get("hoa_giai")
        assert fv is not None
        then = {
            s["id"]: (s["data"], derive.instant_ns(s["captured_at"]))
            for s in (root, a, {**b, "data": {"cac_ben": with_null}})
        }
        derive.rebuild(w, [root["id"]], {"hoa_giai": (fv.renames, fv.latest, {})}, "then",
                       validated=then)  # fmt: skip
        w.conn.execute("DELETE FROM meta WHERE key = 'derive_rules'")
    assert [c["field"] for c in doc(store, root["id"])["conflicts"]] == ["cac_ben"]
    store.close()

    upgraded = Store(path)
    assert Catalog(upgraded).finish_rederive() == 1
    record = doc(upgraded, root["id"])
    assert record["conflicts"] == []
    assert record["data"]["cac_ben"] == moved


def test_a_new_database_is_derived_under_todays_rules_from_the_start(tmp_path: Path) -> None:
    store = Store(tmp_path / "coso.db")
    assert store.derive_rules() == DERIVE_RULES
    assert Catalog(store).finish_rederive() == 0


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_an_export_streaming_across_a_renaming_publish_loses_no_value(
    tmp_path: Path, fmt: str
) -> None:
    """The columns of an export are those of the versions when it starts. A publish renaming
    a field while it streams derives the records anew, and they come again under the new
    name: the renamed field was written empty in each one's newer row (found by a probe of
    exports under load: every record's last row had it empty)."""
    from server import export
    from server.catalog import renames_now

    store, catalog, _, items = setup(tmp_path / "coso.db", 1500)
    fv = catalog.get("hoa_giai")
    assert fv is not None
    docs = (row.doc for row in store.iter_records("hoa_giai", ""))
    chunks = export.export(
        fmt,
        docs,
        fv.defs,
        later=lambda: renames_now(catalog, "hoa_giai"),  # type: ignore[arg-type]
    )
    first = next(chunks)  # the first page read, and written in part
    publish_renaming(catalog)
    text = (first + b"".join(chunks)).decode("utf-8-sig")
    if fmt == "csv":
        table = list(csv.DictReader(io.StringIO(text, newline="")))
    else:
        table = [msgspec.json.decode(line) for line in text.split("\n") if line]
    assert len(table) > len(items)  # records derived anew came again, their newer state last
    last = {row["record_id"]: row for row in table}
    sent = {i["id"]: i["data"]["hoa_giai_vien"] for i in items if "hoa_giai_vien" in i["data"]}
    assert sent and all(last[rid]["hoa_giai_vien"] == value for rid, value in sent.items())
    # they were derived under the new version
    assert doc(store, items[0]["id"])["form_version"] == NEXT
