"""A new form version reaches the phone through If-None-Match; a draft started on the old
version stays on it (and is sent as that version), new drafts use the new one."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from playwright.sync_api import Response, expect

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"


@pytest.mark.browser
def test_new_version_leaves_old_drafts_alone(phones, server) -> None:
    phone = phones("can-bo-f")
    page = phone.page
    phone.new("tuyen_truyen")
    phone.fill({"ten_dia_diem": "Chợ Hàng Da"})
    page.goto(f"{server.url}/app/#/")
    expect(page.locator("#draft-list a")).to_have_count(1)

    form = yaml.safe_load((SCHEMAS / "tuyen_truyen.v1.yaml").read_text("utf-8"))
    form["fields"].append(
        {
            "name": "so_phu_nu",
            "type": "integer",
            "min": 0,
            "label": {"vi": "Số phụ nữ", "en": "Women"},
        }
    )
    admin = server.add_user("quan-tri", "admin", "")
    status, published = server.api(admin, "/forms", form)
    assert status == 201, published

    manifest_statuses: list[int] = []

    def on_response(response: Response) -> None:
        if response.url.endswith("/api/v1/forms"):
            manifest_statuses.append(response.status)

    page.on("response", on_response)
    phone.sync()
    phone.sync()
    assert manifest_statuses == [200, 304]
    versions = phone.js("(await db.all('forms')).filter((f) => f.form_id === 'tuyen_truyen')")
    assert sorted(v["version"] for v in versions) == [1, published["version"]]

    page.locator("#draft-list a").click()
    expect(page.locator(".notice")).to_contain_text("phiên bản cũ 1")
    expect(phone.field("so_phu_nu")).to_have_count(0)
    phone.fill(
        {
            "ngay_tuyen_truyen": "2025-09-05",
            "loai_dia_diem": "cho",
            "chu_de": ["tin_dung_den"],
            "hinh_thuc": "to_roi_pano",
        }
    )
    phone.offline()
    phone.save()
    [item] = phone.outbox()
    assert item["form_version"] == 1
    assert item["data"]["ten_dia_diem"] == "Chợ Hàng Da"

    phone.new("tuyen_truyen")
    expect(phone.field("so_phu_nu")).to_be_visible()
    draft = phone.js("(await db.all('drafts'))[0]")
    assert draft["form_version"] == published["version"]
