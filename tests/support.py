"""Realistic submissions for tests and benchmarks: valid data for the real forms."""

from __future__ import annotations

import os
import random
import time
from datetime import UTC, datetime, timedelta
from typing import Any

GIVEN = [
    "Nguyễn Văn",
    "Trần Thị",
    "Lê Văn",
    "Phạm Thị",
    "Hoàng Văn",
    "Vũ Thị",
    "Đặng Văn",
    "Bùi Thị",
]
NAMES = ["An", "Bình", "Cường", "Dung", "Hà", "Hùng", "Lan", "Minh", "Nga", "Phúc", "Quang", "Thảo"]
STREETS = ["Hàng Bạc", "Hàng Đào", "Lý Thái Tổ", "Đinh Tiên Hoàng", "Tràng Tiền", "Hàng Gai"]


def uuid7(rng: random.Random | None = None) -> str:
    """A time-ordered UUIDv7, as the phones make them."""
    ms = time.time_ns() // 1_000_000
    rand = rng.getrandbits(74) if rng else int.from_bytes(os.urandom(10), "big") >> 6
    value = (ms << 80) | (0x7 << 76) | ((rand >> 62) << 64) | (0b10 << 62) | (rand & (2**62 - 1))
    h = f"{value:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def now(offset_minutes: int = 0) -> str:
    t = datetime.now(UTC).astimezone(datetime.now().astimezone().tzinfo) + timedelta(
        minutes=offset_minutes
    )
    return t.replace(microsecond=0).isoformat()


def person(rng: random.Random) -> str:
    return f"{rng.choice(GIVEN)} {rng.choice(NAMES)}"


def hoa_giai(rng: random.Random) -> dict[str, Any]:
    """A mediation case (hoa_giai v2) as an officer fills it in."""
    return {
        "ngay_tiep_nhan": f"2026-{rng.randint(1, 11):02d}-{rng.randint(1, 28):02d}",
        "cac_ben": [
            {
                "ho_ten": person(rng),
                "nam_sinh": rng.randint(1950, 2005),
                "gioi_tinh": rng.choice(["nam", "nu"]),
                "dia_chi": f"Số {rng.randint(1, 200)} phố {rng.choice(STREETS)}, Hoàn Kiếm",
                "so_dien_thoai": f"09{rng.randint(10_000_000, 99_999_999)}",
                "vai_tro": role,
            }
            for role in ("ben_yeu_cau", "ben_con_lai")
        ],
        "loai_vu_viec": rng.choice(["dat_dai", "hon_nhan_gia_dinh", "vay_muon_tai_san"]),
        "noi_dung_vu_viec": "Tranh chấp lối đi chung giữa hai hộ liền kề; hai bên đề nghị tổ "
        "hòa giải xem xét và hỗ trợ thỏa thuận.",
        "trang_thai": rng.choice(["moi_tiep_nhan", "dang_hoa_giai"]),
        "hoa_giai_vien": f"{person(rng)}, {person(rng)}",
        "so_buoi_hoa_giai": rng.randint(0, 5),
    }


def submission(
    form_id: str,
    data: dict[str, Any],
    *,
    version: int,
    record_id: str | None = None,
    parents: list[str] | None = None,
    rng: random.Random | None = None,
    **extra: Any,
) -> dict[str, Any]:
    sid = uuid7(rng)
    item = {
        "id": sid,
        "form_id": form_id,
        "form_version": version,
        "record_id": record_id,
        "parents": parents or [],
        "captured_at": now(),
        "data": data,
    }
    item.update(extra)
    return item


def assert_problem(response: Any, status: int) -> dict[str, Any]:
    """The one error shape (RFC 9457): returns the body for further checks."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert isinstance(body["type"], str) and body["type"]
    assert isinstance(body["title"], str) and body["title"]
    assert body["status"] == status
    assert isinstance(body["detail"], str) and body["detail"]
    for error in body.get("errors") or []:
        assert set(error) == {"path", "code", "message"}, error
        assert all(isinstance(v, str) for v in error.values())
        assert error["code"] and error["message"]
    return body
