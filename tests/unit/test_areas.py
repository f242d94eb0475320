"""The area tree and the official registry: paths, containment, names, search."""

import pytest

from server import areas

HOAN_KIEM = ("01.00070", "Phường Hoàn Kiếm, Thành phố Hà Nội")


def test_registry_counts() -> None:
    paths = list(areas._registry())
    assert sum("." not in p for p in paths) == 34
    assert sum("." in p for p in paths) == 3321


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("01", "Thành phố Hà Nội"),
        ("01.00070", "Phường Hoàn Kiếm, Thành phố Hà Nội"),
        ("79", "Thành phố Hồ Chí Minh"),
        ("79.26743", "Phường Bến Thành, Thành phố Hồ Chí Minh"),
        ("66.24163", "Phường Tân An, Đắk Lắk"),  # the source doubles a space here
        ("1", None),
        ("01.70", None),
        ("01.00070.x", None),
        ("HN.BD", None),
        ("", None),
    ],
)
def test_name(path: str, expected: str | None) -> None:
    assert areas.name(path) == expected
    assert areas.is_official(path) is (expected is not None)


@pytest.mark.parametrize("text", ["hoan kiem", "Hoàn Kiếm", "HOAN KIEM", "  hoàn   KIẾM "])
def test_search_ignores_case_and_diacritics(text: str) -> None:
    assert areas.search(text)[0] == HOAN_KIEM


def test_search_commune_in_another_province_without_diacritics() -> None:
    assert areas.search("ben thanh")[0] == ("79.26743", "Phường Bến Thành, Thành phố Hồ Chí Minh")
    assert areas.search("sa pa") == [("15.03006", "Phường Sa Pa, Lào Cai")]


@pytest.mark.parametrize("code", ["00070", "01.00070", "70", "070", "0070"])
def test_search_by_code(code: str) -> None:
    assert areas.search(code) == [HOAN_KIEM]


@pytest.mark.parametrize("code", ["00037", "00001", "037"])
def test_a_code_written_in_full_matches_its_own_level_only(code: str) -> None:
    """`00037` is a commune's code (none has it): it found province 37 (Ninh Bình), as it was
    compared as a number whatever its length."""
    assert areas.search(code) == []
    assert areas.search(code.lstrip("0"))[0] == (f"{int(code):02d}", areas.name(f"{int(code):02d}"))


def test_search_province_by_code_and_name() -> None:
    assert areas.search("79")[0] == ("79", "Thành phố Hồ Chí Minh")
    assert areas.search("ha noi")[0] == ("01", "Thành phố Hà Nội")


def test_search_needs_every_word() -> None:
    assert areas.search("tan an dak lak") == [("66.24163", "Phường Tân An, Đắk Lắk")]
    assert areas.search("hoan kiem da nang") == []


def test_search_ranks_exact_then_prefix_then_rest() -> None:
    results = areas.search("ba dinh", limit=100)
    paths = [p for p, _ in results]
    # Exact own names first (by path), then names merely holding both words.
    assert paths[:3] == ["01.00004", "38.16171", "51.21499"]
    assert all(not n.startswith(("Phường Ba Đình", "Xã Ba Đình")) for _, n in results[3:])
    prefix = areas.search("hoan", limit=100)
    assert prefix[0][1].startswith(("Phường Hoàn", "Xã Hoàn"))


def test_search_limit_and_empty() -> None:
    assert len(areas.search("xa", limit=5)) == 5
    assert areas.search("xa", limit=0) == []
    assert areas.search("") == []
    assert areas.search("   ") == []
    assert areas.search("zzzz qqqq") == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Phường  Hoàn Kiếm", "phuong hoan kiem"),
        ("ĐẮK LẮK", "dak lak"),
        ("đồng\tnai\n", "dong nai"),
        ("", ""),
    ],
)
def test_fold(text: str, expected: str) -> None:
    assert areas.fold(text) == expected


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [("01", "01"), (" 01.00070 \n", "01.00070"), ("HN.BD.PX", "HN.BD.PX"), ("a_b-C.9", "a_b-C.9")],
)
def test_parse_accepts(raw: str, canonical: str) -> None:
    assert areas.parse(raw) == canonical


def test_parse_accepts_limits() -> None:
    assert areas.parse(".".join(["a"] * 8)) == ".".join(["a"] * 8)
    assert areas.parse("x" * 32) == "x" * 32


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("01..00070", "empty segment"),
        (".01", "empty segment"),
        ("01.", "empty segment"),
        ("01/00070", "segment"),
        ("Hà Nội", "segment"),
        ("01.000 70", "segment"),
        ("01.*", "segment"),
        ("x" * 33, "1 to 32"),
        (".".join(["a"] * 9), "at most 8"),
    ],
)
def test_parse_rejects(raw: str, message: str) -> None:
    with pytest.raises(areas.AreaError, match=message):
        areas.parse(raw)


def test_area_error_is_a_value_error() -> None:
    assert issubclass(areas.AreaError, ValueError)


@pytest.mark.parametrize(
    ("ancestor", "path", "expected"),
    [
        ("01", "01", True),
        ("01", "01.00070", True),
        ("01", "01.00070.x", True),
        ("HN", "HN.BD.PX", True),
        ("HN.BD", "HN.BD.PX", True),
        ("01", "012", False),
        ("01", "010.1", False),
        ("01.00070", "01", False),
        ("HN.BD", "HN.BDX", False),
        ("hn", "HN.BD", False),
        ("", "01", True),
        ("", "HN.BD.PX", True),
        ("", "", True),
        ("01", "", False),
    ],
)
def test_contains(ancestor: str, path: str, expected: bool) -> None:
    assert areas.contains(ancestor, path) is expected


def test_sql_prefix() -> None:
    assert areas.sql_prefix("01") == "01."
    assert areas.sql_prefix("HN.BD") == "HN.BD."
    assert areas.sql_prefix("") == ""
