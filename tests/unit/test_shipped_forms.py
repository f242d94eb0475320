"""The forms in `schemas/` as their users read them: a value collected under one version means
the same under every later one. The same field name or choice value with a different meaning
would silently change what was collected (a reporter's request for confidentiality read as an
anonymous report; one award nominated, another shown), where a new name keeps the old data's
own meaning."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from server.form_source import read_source
from tests.support import ROOT, latest_version

FORMS = sorted({p.name.split(".v")[0] for p in (ROOT / "schemas").glob("*.v*.yaml")})

# Vietnamese labels reworded between versions with the meaning kept (read one by one):
# (form, version, field or field=value before, and in that version)
REWORDED = {
    ("danh_gia_tieu_chi", 2, "tieu_chi_09", "tieu_chi_09"),  # "nhà trường" -> "cơ sở giáo dục"
    ("danh_gia_tieu_chi", 2, "xep_loai", "xep_loai"),  # "Xếp loại" -> "Phân loại", the ministry's
    ("hoa_giai", 2, "tom_tat", "noi_dung_vu_viec"),  # "Tóm tắt" -> "Nội dung"
    # widened: one party may ask to end it too
    ("hoa_giai", 3, "trang_thai=rut_yeu_cau", "trang_thai=rut_yeu_cau"),
    ("nam_tinh_hinh", 2, "giau_ten", "de_nghi_giu_bi_mat"),  # the same request, reworded
}


def definition(form_id: str, version: int) -> Any:
    return read_source((ROOT / "schemas" / f"{form_id}.v{version}.yaml").read_text("utf-8"))


def fields(items: list[Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    for f in items:
        yield prefix + f["name"], f
        yield from fields(f.get("fields", []), prefix + f["name"] + ".")


@pytest.mark.parametrize("form_id", FORMS)
def test_a_name_or_value_keeps_its_meaning_in_every_later_version(form_id: str) -> None:
    changed = []
    for version in range(2, latest_version(form_id) + 1):
        before = dict(fields(definition(form_id, version - 1)["fields"]))
        after = dict(fields(definition(form_id, version)["fields"]))
        renamed = {
            name.rpartition(".")[0] + "." * ("." in name) + old: name
            for name, f in after.items()
            for old in f.get("previous_names", [])
        }
        for name, old in before.items():
            now = renamed.get(name, name)
            new = after.get(now)
            if new is None:  # retired: its data keeps its own version's label
                continue
            if old["label"]["vi"] != new["label"]["vi"]:
                changed.append((form_id, version, name, now))
            labels = {c["value"]: c["label"]["vi"] for c in new.get("choices", [])}
            for c in old.get("choices", []):
                if labels.get(c["value"], c["label"]["vi"]) != c["label"]["vi"]:
                    value = f"={c['value']}"
                    changed.append((form_id, version, name + value, now + value))
    assert [c for c in changed if c not in REWORDED] == []


def test_a_birth_year_is_not_bounded_by_the_year_a_form_was_written() -> None:
    """A child born next year is a party to a family case; a year bound of the form's own year
    would need a new version every January."""
    for form_id, path in (("hoa_giai", "cac_ben.nam_sinh"), ("khen_thuong", "nam_sinh")):
        field = dict(fields(definition(form_id, latest_version(form_id))["fields"]))[path]
        assert field["max"] >= 2100, (form_id, field)
