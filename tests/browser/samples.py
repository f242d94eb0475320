"""What the browser tests fill in and push: one mediation case and one situation report, in
Vietnamese as an officer would write them, and a case pushed by another device."""

from __future__ import annotations

import uuid
from typing import Any

CASE = {
    "ngay_tiep_nhan": "2025-08-15",
    "cac_ben": [
        {"ho_ten": "Phạm Văn Cường", "vai_tro": "ben_yeu_cau", "nam_sinh": 1965},
        {"ho_ten": "Đỗ Thị Dung", "vai_tro": "ben_con_lai"},
    ],
    "loai_vu_viec": "dat_dai",
    "noi_dung_vu_viec": "Tranh chấp ranh giới đất vườn giữa hai hộ",
    "trang_thai": "moi_tiep_nhan",
}

REPORT = {
    "thoi_gian_tiep_nhan": "2025-09-10T07:30",
    "loai_vu_viec": "nguoi_la_kha_nghi",
    "muc_do": "thap",
    "noi_dung": "Xe ô tô lạ đỗ nhiều giờ đầu ngõ",
    "nguon_tin": "nguoi_dan_truc_tiep",
}


def push_case(
    server: Any, data: dict[str, Any], form_id: str = "hoa_giai", version: int = 2
) -> str:
    """A case (`hoa_giai` unless told) created through the API by an officer on duty at
    another desk."""
    desk = server.add_user(f"truc-ban-{uuid.uuid4().hex[:6]}")
    case_id = str(uuid.uuid4())
    status, body = server.api(
        desk,
        "/sync/push",
        {
            "device_id": "may-truc-ban",
            "submissions": [
                {
                    "id": case_id,
                    "form_id": form_id,
                    "form_version": version,
                    "parents": [],
                    "captured_at": "2025-08-15T08:00:00+07:00",
                    "data": data,
                }
            ],
        },
    )
    assert status == 200
    assert body["results"][0]["status"] == "accepted", body
    return case_id
