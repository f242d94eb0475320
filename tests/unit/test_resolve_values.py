"""A resolution's values, checked against the form's versions (server/resolve.py)."""

from __future__ import annotations

from server.app import ROOT
from server.catalog import Catalog, publish_files, schema_files
from server.protocol import Conflict, ConflictValue, Record
from server.resolve import _resolution_values
from server.store import Store


def test_a_conflict_on_a_field_no_version_has_is_refused_not_dropped() -> None:
    """A conflict whose name no version of the form holds (stale against the catalogue) was
    settled with its value left out of the resolution, and 200: the value sent was dropped."""
    store = Store(":memory:")
    catalog = Catalog(store)
    publish_files(catalog, schema_files(ROOT / "schemas"))
    fv = catalog.get("hoa_giai")
    assert fv is not None
    sub = ConflictValue("x", "s1", "d1", "2025-08-01T10:00:00+07:00")
    record = Record(
        "r1", "hoa_giai", fv.latest, "01.00070", {}, ["s1", "s2"], 2,
        [Conflict("truong_da_mat", [sub])], "2025-08-01T03:00:00.000Z",
    )  # fmt: skip
    data, errors = _resolution_values(fv, record, {"truong_da_mat": "x"})
    assert "truong_da_mat" not in data
    assert [(e.path, e.code) for e in errors] == [("values.truong_da_mat", "unknown_field")]
    # a field the latest version has is checked as ever
    data, errors = _resolution_values(fv, record, {"trang_thai": "dang_hoa_giai"})
    assert data == {"trang_thai": "dang_hoa_giai"} and errors == []
    store.close()
