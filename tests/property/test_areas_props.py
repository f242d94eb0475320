"""Properties of area containment, checked against a segment-list reference."""

from hypothesis import given, settings
from hypothesis import strategies as st

from server import areas

# A tiny alphabet so that generated paths share prefixes and collide often.
segments = st.text(alphabet="ab1_", min_size=1, max_size=3)
paths = st.lists(segments, min_size=1, max_size=areas.MAX_DEPTH).map(".".join)
areas_or_root = st.one_of(st.just(""), paths)


def reference_contains(ancestor: str, path: str) -> bool:
    above = ancestor.split(".") if ancestor else []
    return path.split(".")[: len(above)] == above


@given(paths)
def test_generated_paths_parse_to_themselves(path: str) -> None:
    assert areas.parse(path) == path


@given(areas_or_root)
def test_reflexive(a: str) -> None:
    assert areas.contains(a, a)


@given(areas_or_root, areas_or_root)
def test_antisymmetric(a: str, b: str) -> None:
    if areas.contains(a, b) and areas.contains(b, a):
        assert a == b


@given(areas_or_root, areas_or_root, areas_or_root)
def test_transitive(a: str, b: str, c: str) -> None:
    if areas.contains(a, b) and areas.contains(b, c):
        assert areas.contains(a, c)


@given(paths, segments)
def test_contains_child(a: str, s: str) -> None:
    assert areas.contains(a, a + "." + s)
    assert not areas.contains(a + "." + s, a)


@given(areas_or_root, areas_or_root)
def test_matches_segment_prefix_reference(a: str, b: str) -> None:
    assert areas.contains(a, b) is reference_contains(a, b)


@given(areas_or_root, paths)
def test_sql_prefix_agrees_with_contains(a: str, b: str) -> None:
    prefix = areas.sql_prefix(a)
    assert areas.contains(a, b) is (b == a or b.startswith(prefix))


@given(st.text())
def test_fold_idempotent(text: str) -> None:
    assert areas.fold(areas.fold(text)) == areas.fold(text)


@given(st.text(alphabet=" \t\n"))
def test_blank_search_finds_nothing(text: str) -> None:
    assert areas.search(text) == []


@settings(max_examples=50)
@given(st.text(max_size=12) | st.from_regex(r"[0-9²٣]{1,6}(\.[0-9]{1,6})?", fullmatch=True))
def test_search_returns_official_units_for_any_text(text: str) -> None:
    for path, full_name in areas.search(text, limit=5):
        assert areas.name(path) == full_name
