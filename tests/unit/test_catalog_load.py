"""The catalogue a running server keeps up to date as versions are published (from the API or
from `coso forms publish` beside it) is the one a server starting now would load: a reload
reuses what it had loaded, and must never serve or check against anything else. A publish
reloads only the form it changed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec

from server.catalog import Catalog, FormVersions
from server.forms import parse_definition
from server.store import Store


def definition(form_id: str, version: int) -> Any:
    """Version `version` of a small form that renames a field, adds one, removes one and adds
    a choice as it goes, so that each version's renames, retired fields and choices differ."""
    fields: list[dict[str, Any]] = [
        {"name": "ten" if version < 3 else "ho_ten", "type": "text", "required": True,
         "label": {"vi": "Tên", "en": "Name"},
         **({"previous_names": ["ten"]} if version >= 3 else {})},
        {"name": "muc", "type": "select_multiple", "label": {"vi": "Mức", "en": "Level"},
         "choices": [{"value": f"c{i}", "label": {"vi": f"C{i}", "en": f"C{i}"}}
                     for i in range(1 + version % 4)]},
    ]  # fmt: skip
    if version % 2:
        fields.append({"name": f"them_{version}", "type": "integer",
                       "label": {"vi": "Thêm", "en": "Extra"}})  # fmt: skip
    return parse_definition(
        {
            "form_id": form_id,
            "title": {"vi": f"Biểu mẫu {version}", "en": f"Form {version}"},
            "fields": fields,
        }
    )


def loaded(fv: FormVersions) -> dict[str, Any]:
    """Everything a form's versions are served and checked with, comparable."""
    return {
        "defs": [msgspec.to_builtins(d) for d in fv.defs],
        "shas": fv.shas,
        "docs": fv.docs,
        "maps": fv.maps,
        "renames": fv.renames,
        "names_since": fv.names_since,
        "accepted": [msgspec.to_builtins(d) for d in fv.accepted],
        "orders": fv.orders,
        "validators": [(v.form_id, v.version) for v in fv.validators],
    }


def test_a_catalogue_kept_up_to_date_equals_one_loaded_from_scratch(tmp_path: Path) -> None:
    store = Store(tmp_path / "coso.db")
    beside = Store(tmp_path / "coso.db")  # `coso forms publish` in another process
    try:
        serving = Catalog(store)
        publishing = Catalog(beside)
        for version in range(1, 9):
            for form_id in ("mau_a", "mau_b"):
                if form_id == "mau_b" and version > 5:
                    continue
                # from the API (the serving catalogue) and from the CLI, in turn
                (serving if version % 2 else publishing).publish(
                    definition(form_id, version), None, "admin"
                )
                serving.reload()
                fresh = Catalog(Store(tmp_path / "coso.db"))
                for fid in ("mau_a", "mau_b"):
                    mine, theirs = serving.get(fid), fresh.get(fid)
                    assert (mine is None) == (theirs is None)
                    if mine is not None and theirs is not None:
                        assert loaded(mine) == loaded(theirs), (fid, version)
                fresh.store.close()
        # and it checks data as the fresh one does: v2's `ten` under v8's name, a choice
        # v1 lacked, a field only v1 had
        fv = serving.get("mau_a")
        assert fv is not None and fv.latest == 8
        data, errors = fv.validators[0]({"ten": "A", "muc": ["c3"], "them_1": 1}, creating=True)
        assert errors == [] and data == {"ten": "A", "muc": ["c3"], "them_1": 1}
        assert fv.renames == {"ten": "ho_ten"}
    finally:
        beside.close()
        store.close()


def test_a_publish_reloads_only_the_form_it_changed(tmp_path: Path) -> None:
    store = Store(tmp_path / "coso.db")
    try:
        catalog = Catalog(store)
        for version in range(1, 4):
            catalog.publish(definition("mau_a", version), None, "admin")
        catalog.publish(definition("mau_b", 1), None, "admin")
        a, b = catalog.get("mau_a"), catalog.get("mau_b")
        assert a is not None and b is not None
        catalog.publish(definition("mau_b", 2), None, "admin")
        assert catalog.get("mau_a") is a  # untouched: not decoded, checked or compiled again
        b2 = catalog.get("mau_b")
        assert b2 is not None and b2 is not b and b2.latest == 2
        # the earlier version as loaded before, fixed once published: not computed again
        assert b2.defs[0] is b.defs[0] and b2.docs[0] is b.docs[0] and b2.maps[0] is b.maps[0]
    finally:
        store.close()
