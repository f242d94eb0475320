"""Setup link -> forms on the phone; no network -> the app still opens and three forms are
filled and saved (one mistake caught inline; a text as long
as its limit allows in characters, emoji included); network back -> they reach the server
intact."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import expect_sent
from tests.browser.samples import REPORT

TUYEN_TRUYEN = {
    "ngay_tuyen_truyen": "2025-08-20",
    "loai_dia_diem": "nha_van_hoa",
    "ten_dia_diem": "Nhà văn hóa tổ dân phố số 5",
    "chu_de": ["phong_chong_ma_tuy", "lua_dao_qua_mang"],
    "hinh_thuc": "hoi_nghi",
    "so_nguoi_tham_du": "85",
}
NAM_TINH_HINH = {
    "thoi_gian_tiep_nhan": "2025-08-21T21:15",
    "loai_vu_viec": "trom_cap",
    "muc_do": "trung_binh",
    "noi_dung": "Mất trộm xe máy trước cửa nhà số 12 ngõ Hàng Bạc",
    "nguon_tin": "dien_thoai",
    "nac_danh": False,
    "ho_ten_nguoi_bao": "Trần Thị Hoa",
    "sdt_nguoi_bao": "12345",  # wrong: caught inline, then fixed
    "so_nguoi_lien_quan": "2",
}
HOA_GIAI = {
    "ngay_tiep_nhan": "2025-08-22",
    "cac_ben[0].ho_ten": "Nguyễn Văn An",
    "cac_ben[0].nam_sinh": "1970",
    "cac_ben[0].vai_tro": "ben_yeu_cau",
    "cac_ben[1].ho_ten": "Lê Văn Bình",
    "cac_ben[1].vai_tro": "ben_con_lai",
    "loai_vu_viec": "xay_dung_loi_di",
    "noi_dung_vu_viec": "Tranh chấp lối đi chung giữa hai hộ liền kề",
    "trang_thai": "moi_tiep_nhan",
}
# max_length counts characters: 4000 of them, mostly emoji (two UTF-16 units each), fit in 4000.
LONG = (HOA_GIAI["noi_dung_vu_viec"] + " ").ljust(4000, "🏠")


@pytest.mark.browser
def test_offline_entry_then_sync(phones, server) -> None:
    phone = phones(
        "can-bo-a",
        geolocation={"latitude": 21.0285, "longitude": 105.8542, "accuracy": 12},
        permissions=["geolocation"],
    )
    page = phone.page
    status, manifest = server.api(phone.token, "/forms")
    assert status == 200
    # every version of every form (earlier ones give the labels of what a later one removed)
    wanted = sorted(
        f"{f['form_id']}@{v}" for f in manifest["forms"] for v in range(1, f["version"] + 1)
    )
    stored = phone.js("(await db.all('forms')).map((f) => `${f.form_id}@${f.version}`)")
    assert sorted(stored) == wanted
    wanted = [f["form_id"] for f in manifest["forms"]]
    phone.shot("01-trang-chinh", docs=True)

    phone.offline()
    page.reload()
    expect(page.locator("#form-list a")).to_have_count(len(wanted))

    phone.new("tuyen_truyen")
    phone.fill(TUYEN_TRUYEN)
    phone.field("vi_tri").get_by_role("button").click()
    expect(phone.field("vi_tri").locator("input").first).to_have_value("21.0285")
    phone.save()
    expect(page.locator(".flash")).to_be_visible()

    phone.new("nam_tinh_hinh")
    phone.fill(NAM_TINH_HINH)
    expect(phone.field("sdt_nguoi_bao").locator(".err")).to_have_text(
        "Không đúng định dạng: 10 hoặc 11 chữ số, bắt đầu bằng 0 (ví dụ 0912345678)"
        " / Wrong format: 10 or 11 digits starting with 0 (e.g. 0912345678)"
    )
    phone.save()
    expect(page.locator("#form-errors")).to_be_visible()
    assert len(phone.outbox()) == 1
    phone.shot("02-loi-nhap-lieu")
    phone.fill({"sdt_nguoi_bao": "0912345678"})
    expect(phone.field("sdt_nguoi_bao").locator(".err")).to_be_hidden()
    phone.save()
    expect(page.locator(".flash")).to_be_visible()

    phone.new("hoa_giai")
    phone.fill({**HOA_GIAI, "noi_dung_vu_viec": LONG + "!"})
    expect(phone.field("noi_dung_vu_viec").locator(".err")).to_have_text(
        "Tối đa 4000 ký tự / At most 4000 characters"
    )
    phone.fill({"noi_dung_vu_viec": LONG})
    expect(phone.field("noi_dung_vu_viec").locator(".err")).to_be_hidden()
    phone.save()
    expect(page.locator(".flash")).to_be_visible()
    expect(page.locator("#st-waiting")).to_have_text("Chờ gửi / Waiting: 3")
    assert len(phone.outbox()) == 3

    phone.offline(False)  # the `online` event starts a sync by itself
    expect_sent(page, 20_000)
    assert phone.outbox() == []

    boss = server.add_user("giam-sat", "supervisor", "01")
    [tt] = server.records(boss, "tuyen_truyen")
    assert tt["data"]["vi_tri"]["lat"] == 21.0285
    assert tt["data"]["vi_tri"]["lon"] == 105.8542
    assert tt["data"]["vi_tri"]["accuracy"] == 12
    assert {k: v for k, v in tt["data"].items() if k != "vi_tri"} == {
        **TUYEN_TRUYEN,
        "so_nguoi_tham_du": 85,
    }
    [nth] = server.records(boss, "nam_tinh_hinh")
    assert nth["data"] == {
        **NAM_TINH_HINH,
        "thoi_gian_tiep_nhan": "2025-08-21T21:15:00+07:00",
        "sdt_nguoi_bao": "0912345678",
        "so_nguoi_lien_quan": 2,
    }
    [hg] = server.records(boss, "hoa_giai")
    assert hg["data"] == {
        "ngay_tiep_nhan": "2025-08-22",
        "cac_ben": [
            {"ho_ten": "Nguyễn Văn An", "nam_sinh": 1970, "vai_tro": "ben_yeu_cau"},
            {"ho_ten": "Lê Văn Bình", "vai_tro": "ben_con_lai"},
        ],
        "loai_vu_viec": "xay_dung_loi_di",
        "noi_dung_vu_viec": LONG,
        "trang_thai": "moi_tiep_nhan",
    }
    # The case and the situation report come back to the phone for follow-up; the outreach
    # session does not.
    page.goto(f"{server.url}/app/#/cases")
    expect(page.locator("#case-list a")).to_have_count(2)
    expect(page.locator("#case-list")).to_contain_text("Trộm cắp tài sản / Theft")


@pytest.mark.browser
def test_the_app_opens_offline_again_after_its_cache_was_cleared(phones, server) -> None:
    """The browser's cache of the app cleared, its data kept (a "clear cache" in the phone's
    settings): the next start online fetches the whole app again, so the one after opens
    with no network (found by a probe: only the files the page asked for came back, not the
    page itself, and the app never opened offline again)."""
    phone = phones("can-bo-xoa-cache")
    page = phone.page
    page.evaluate("caches.keys().then((ks) => Promise.all(ks.map((k) => caches.delete(k))))")
    page.reload()
    expect(page.locator("#form-list a").first).to_be_visible()
    cached = "caches.match('./').then((r) => !!r)"
    for _ in range(100):
        if page.evaluate(cached):
            break
        page.wait_for_timeout(100)
    phone.offline()
    page.reload()
    expect(page.locator("#form-list a").first).to_be_visible()
    phone.new("tuyen_truyen")  # and its forms work


@pytest.mark.browser
def test_a_time_before_1906_is_written_as_utc(phones, server) -> None:
    """Before 1906 the phone's time zone keeps local mean time, +07:06:30, which no RFC 3339 offset
    writes: such a time is written in UTC (found by a probe: `+07:6.5`, which the phone's own
    check then refused)."""
    phone = phones("can-bo-lich-su")
    phone.new("nam_tinh_hinh")
    phone.fill({**REPORT, "thoi_gian_tiep_nhan": "1905-01-01T10:00"})
    phone.save()
    expect(phone.page.locator(".flash")).to_be_visible()
    phone.wait_outbox_empty()
    boss = server.add_user("giam-sat", "supervisor", "01")
    [record] = server.records(boss, "nam_tinh_hinh")
    assert record["data"]["thoi_gian_tiep_nhan"] == "1905-01-01T02:53:30Z"
