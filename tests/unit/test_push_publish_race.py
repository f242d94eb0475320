"""A form version published between the moment a push's items are checked and the moment they
are stored: the records are merged under the names of the version published, as they would be
by a merge from scratch (the stored state is always the merge of the stored submissions)."""

from __future__ import annotations

import random
from pathlib import Path

import msgspec

from server import sync
from server.app import ROOT
from server.auth import add_user
from server.catalog import Catalog, publish_files, schema_files
from server.form_source import read_source
from server.forms import parse_definition
from server.store import Store
from tests.support import hoa_giai, latest_version, submission


def test_a_push_racing_a_renaming_publish_stores_the_latest_names(tmp_path: Path) -> None:
    db = tmp_path / "coso.db"
    store = Store(db)
    other = Store(db)  # `coso forms publish`, another process, on the same database
    try:
        serving = Catalog(store)
        publish_files(serving, schema_files(ROOT / "schemas"))
        user, _ = add_user(store, "officer", "officer", "01.00070")
        latest = latest_version("hoa_giai")
        shipped = (ROOT / "schemas" / f"hoa_giai.v{latest}.yaml").read_text("utf-8")
        renaming = shipped.replace(
            "  - name: hoa_giai_vien\n",
            "  - name: to_hoa_giai\n    previous_names: [hoa_giai_vien]\n",
            1,
        )
        assert renaming != shipped
        serving.reload()  # the push handler's reload, before the items are checked
        publishing = Catalog(other)
        definition = parse_definition(read_source(renaming, f"hoa_giai.v{latest + 1}.yaml"))
        publishing.publish(definition, None, "cli")

        item = submission("hoa_giai", hoa_giai(random.Random(1)), version=latest)
        [result] = sync.push(store, serving, user, "phone", [msgspec.json.encode(item)])
        assert result.status == "accepted"
        record = msgspec.json.decode(store.record(item["id"]).doc)
        assert record["form_version"] == latest + 1
        assert "to_hoa_giai" in record["data"]
        assert "hoa_giai_vien" not in record["data"]
    finally:
        other.close()
        store.close()
