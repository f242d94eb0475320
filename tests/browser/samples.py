"""What the browser tests fill in and push: one mediation case and one situation report, in
Vietnamese as an officer would write them."""

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
