"""Form evolution (server/evolution.py): where each earlier version's data is kept under the
latest names, and what a new version may not do to it: change a field's type, bring two fields
of one version together, or give a renamed-away name to another field."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from server.derive import renamed
from server.evolution import check_evolution, evolve, rename_map, with_retired
from server.form_source import read_source
from server.forms import FormDef, parse_definition, walk
from server.protocol import FieldError
from server.validate import compile_form

L = {"vi": "Nhãn", "en": "Label"}
CHOICES = [{"value": "a", "label": L}, {"value": "b", "label": L}]


def field(name: str, type_: str = "text", **options: Any) -> dict[str, Any]:
    return {"name": name, "type": type_, "label": L, **options}


def parsed(*fields: dict[str, Any]) -> FormDef:
    return parse_definition({"form_id": "thu_nghiem", "title": L, "fields": list(fields)})


def hoa_giai(version: int) -> dict[str, Any]:
    path = Path(__file__).parents[2] / "schemas" / f"hoa_giai.v{version}.yaml"
    return read_source(path.read_text(encoding="utf-8"), path.name)


def codes(errors: list[FieldError]) -> list[tuple[str, str]]:
    return [(e.path, e.code) for e in errors]


def group(name: str, *fields: dict[str, Any], **options: Any) -> dict[str, Any]:
    return field(name, "repeat", fields=list(fields), **options)


# --- as before: types, renames, chains --------------------------------------------------------


def test_the_real_hoa_giai_v2_evolves_from_v1() -> None:
    v1, v2 = parse_definition(hoa_giai(1)), parse_definition(hoa_giai(2))
    assert check_evolution([v1], v2) == []
    assert rename_map(v2) == {"tom_tat": "noi_dung_vu_viec"}
    assert rename_map(v1) == {}
    new_names = {name for name, _ in walk(v2.fields)} - {name for name, _ in walk(v1.fields)}
    assert "noi_dung_vu_viec" in new_names
    assert len(new_names) >= 2  # the rename, and at least one added field


def test_a_type_change_is_refused_with_the_path_of_the_field() -> None:
    v1 = parsed(field("a"), field("so_nguoi", "integer"))
    v2 = parsed(field("a"), field("b"), field("so_nguoi", "decimal"))
    errors = check_evolution([v1], v2)
    assert [(e.path, e.code) for e in errors] == [("fields[2]", "type_changed")]
    assert "integer" in errors[0].message
    assert "có kiểu integer ở phiên bản 1" in errors[0].message  # in Vietnamese too
    assert "version 1" in errors[0].message


def test_a_type_change_against_any_earlier_version_is_refused() -> None:
    v1 = parsed(field("a"), field("cu", "date"))
    v2 = parsed(field("a"))  # `cu` removed
    v3 = parsed(field("a"), field("cu", "text"))  # and brought back as another type
    errors = check_evolution([v1, v2], v3)
    assert [(e.path, e.code) for e in errors] == [("fields[1]", "type_changed")]
    assert "version 1" in errors[0].message


def test_a_type_change_inside_a_repeat_has_the_nested_path() -> None:
    v1 = parsed(field("cac_ben", "repeat", fields=[field("ho_ten"), field("tuoi", "integer")]))
    v2 = parsed(field("x"), field("cac_ben", "repeat", fields=[field("ho_ten"), field("tuoi")]))
    errors = check_evolution([v1], v2)
    assert [(e.path, e.code) for e in errors] == [("fields[1].fields[1]", "type_changed")]


def test_a_type_change_through_a_rename_is_refused() -> None:
    v1 = parsed(field("tom_tat"))
    v2 = parsed(field("noi_dung", "integer", previous_names=["tom_tat"]))
    assert [(e.path, e.code) for e in check_evolution([v1], v2)] == [("fields[0]", "type_changed")]


def test_a_rename_through_previous_names_is_accepted() -> None:
    v1 = parsed(field("tom_tat", max_length=10), field("cac_ben", "repeat", fields=[field("ten")]))
    v2 = parsed(
        field("noi_dung", max_length=4000, previous_names=["tom_tat"]),
        field("cac_ben", "repeat", fields=[field("ho_ten", previous_names=["ten"])]),
        field("moi", "boolean"),
    )
    assert check_evolution([v1], v2) == []
    assert rename_map(v2) == {"tom_tat": "noi_dung", "cac_ben.ten": "ho_ten"}


def test_rename_map_follows_a_chain_of_renames() -> None:
    v3 = parsed(field("c", previous_names=["a", "b"]), field("d"))
    assert rename_map(v3) == {"a": "c", "b": "c"}


def test_rename_map_composes_renames_across_versions() -> None:
    v1 = parsed(field("a"), field("x"))
    v2 = parsed(field("b", previous_names=["a"]), field("x"))
    v3 = parsed(field("c", previous_names=["b"]))  # lists only the last name; x removed
    assert rename_map(v3, [v1, v2]) == {"a": "c", "b": "c"}
    v4 = parsed(field("c", previous_names=["b"]), field("a"))  # `a` back as a new field
    assert rename_map(v4, [v1, v2, v3]) == {"b": "c"}
    assert codes(check_evolution([v1, v2, v3], v4)) == [("fields[1].name", "name_reused")]


def test_a_changed_choice_list_or_constraint_is_not_a_type_change() -> None:
    v1 = parsed(field("loai", "select_one", choices=CHOICES), field("so", "integer", max=5))
    v2 = parsed(
        field("loai", "select_one", choices=[*CHOICES, {"value": "c", "label": L}]),
        field("so", "integer", max=50, required=True),
    )
    assert check_evolution([v1], v2) == []


def test_rename_map_reaches_into_repeat_groups() -> None:
    v1 = parsed(field("ben", "repeat", fields=[field("ten"), field("tuoi", "integer")]))
    v2 = parsed(
        field(
            "cac_ben",
            "repeat",
            previous_names=["ben"],
            fields=[field("ho_ten", previous_names=["ten"]), field("tuoi", "integer")],
        )
    )
    assert rename_map(v2, [v1]) == {"ben": "cac_ben", "cac_ben.ten": "ho_ten"}


def test_rename_map_reaches_into_groups_inside_groups() -> None:
    v1 = parsed(group("ben", field("ten"), group("lan", field("ngay", "date"))))
    v2 = parsed(
        group(
            "cac_ben",
            field("ho_ten", previous_names=["ten"]),
            group(
                "cac_lan",
                field("ngay_gap", "date", previous_names=["ngay"]),
                previous_names=["lan"],
            ),
            previous_names=["ben"],
        )
    )
    renames = rename_map(v2, [v1])
    assert renames == {
        "ben": "cac_ben",
        "cac_ben.ten": "ho_ten",
        "cac_ben.lan": "cac_lan",
        "cac_ben.cac_lan.ngay": "ngay_gap",
    }
    old = {"ben": [{"ten": "An", "lan": [{"ngay": "2025-01-02"}]}]}
    assert renamed(old, renames) == {
        "cac_ben": [{"ho_ten": "An", "cac_lan": [{"ngay_gap": "2025-01-02"}]}]
    }


def test_a_field_renamed_back_and_then_removed_keeps_its_last_name() -> None:
    """Data of every version of one field ends under one name: the one it had last."""
    v1 = parsed(field("x"), field("a"))
    v2 = parsed(field("x"), field("b", previous_names=["a"]))
    v3 = parsed(field("x"), field("a", previous_names=["b"]))
    v4 = parsed(field("x"))
    assert check_evolution([v1, v2], v3) == check_evolution([v1, v2, v3], v4) == []
    renames = rename_map(v4, [v1, v2, v3])
    assert renames == {"b": "a"}
    assert {renamed({n: 1}, renames).popitem()[0] for n in ("a", "b")} == {"a"}


# --- rename_collision: two fields of one version may not come to one name ----------------------


def test_keeping_one_of_two_fields_under_both_names_is_refused() -> None:
    """v1 has `ho` and `ten`; v2 keeps `ten` and lists `ho` as its previous name: every v1
    record would keep only one of its two values."""
    v1 = parsed(field("ho"), field("ten"))
    v2 = parsed(field("ten", previous_names=["ho"]))
    errors = check_evolution([v1], v2)
    assert codes(errors) == [("fields[0].previous_names[0]", "rename_collision")]
    assert "'ho' and 'ten' are two fields of version 1" in errors[0].message
    assert "'ho' và 'ten' là hai trường của phiên bản 1" in errors[0].message


def test_renaming_two_fields_to_one_is_refused_at_the_second_name() -> None:
    v1 = parsed(field("ho"), field("ten"), field("x"))
    v2 = parsed(field("x"), field("ho_ten", previous_names=["ho", "ten"]))
    assert codes(check_evolution([v1], v2)) == [("fields[1].previous_names[1]", "rename_collision")]


def test_a_collision_through_a_chain_of_renames_is_refused() -> None:
    v1 = parsed(field("ho"), field("ten"))
    v2 = parsed(field("ho_dem", previous_names=["ho"]), field("ten"))
    v3 = parsed(field("ten", previous_names=["ho_dem"]))  # `ho` reaches `ten` through `ho_dem`
    assert codes(check_evolution([v1, v2], v3)) == [
        ("fields[0].previous_names[0]", "rename_collision")
    ]


def test_a_collision_inside_a_renamed_group_has_the_nested_path() -> None:
    v1 = parsed(group("ben", field("ho"), field("ten")))
    v2 = parsed(
        field("x"), group("cac_ben", field("ten", previous_names=["ho"]), previous_names=["ben"])
    )
    errors = check_evolution([v1], v2)
    assert codes(errors) == [("fields[1].fields[0].previous_names[0]", "rename_collision")]
    assert "'ben.ho' and 'ben.ten'" in errors[0].message


def test_a_removed_field_may_become_a_field_it_was_never_beside() -> None:
    v1 = parsed(field("x"), field("a"))
    v2 = parsed(field("x"))  # `a` removed
    v3 = parsed(field("x"), field("b", previous_names=["a"]))  # "b is what a was"
    assert check_evolution([v1, v2], v3) == []
    assert rename_map(v3, [v1, v2]) == {"a": "b"}


def test_a_removed_field_may_not_become_a_field_its_data_was_kept_beside() -> None:
    """v2 removed `a` and added `b`; v2's data may still hold `a` (a record keeps what it
    collected, and a phone sends a group's items back whole with it), beside `b`: calling
    `b` what `a` was would keep one of the two values of such a submission."""
    v1 = parsed(field("x"), field("a"))
    v2 = parsed(field("x"), field("b"))
    v3 = parsed(field("x"), field("b", previous_names=["a"]))
    errors = check_evolution([v1, v2], v3)
    assert codes(errors) == [("fields[1].previous_names[0]", "rename_collision")]
    assert "version 2" in errors[0].message and "removed before" in errors[0].message
    vi, _, en = errors[0].message.partition(" / ")
    assert "phiên bản 2" in vi and "đã bị bỏ" in vi and "removed before" in en
    group = field("g", "repeat", fields=[field("x"), field("a")])
    w1 = parsed(group)
    w2 = parsed(field("g", "repeat", fields=[field("x"), field("b")]))
    w3 = parsed(field("g", "repeat", fields=[field("x"), field("b", previous_names=["a"])]))
    assert codes(check_evolution([w1, w2], w3)) == [
        ("fields[0].fields[1].previous_names[0]", "rename_collision")
    ]


# --- name_reused: a name renamed away belongs to the field it went to ---------------------------


def test_a_new_field_may_not_take_a_name_renamed_away() -> None:
    v1 = parsed(field("ten"))
    v2 = parsed(field("ho_ten", previous_names=["ten"]))
    v3 = parsed(field("ho_ten"), field("ten"))
    errors = check_evolution([v1, v2], v3)
    assert codes(errors) == [("fields[1].name", "name_reused")]
    assert "'ten' was renamed to 'ho_ten'" in errors[0].message
    assert "'ten' đã được đổi tên thành 'ho_ten'" in errors[0].message


def test_a_name_renamed_away_from_a_field_removed_since_is_not_free_either() -> None:
    v1 = parsed(field("x"), field("a"))
    v2 = parsed(field("x"), field("b", previous_names=["a"]))
    v3 = parsed(field("x"))
    v4 = parsed(field("x"), field("a", "integer"))
    assert codes(check_evolution([v1, v2, v3], v4)) == [("fields[1].name", "name_reused")]


def test_a_field_may_be_renamed_back_if_it_says_so() -> None:
    v1 = parsed(field("ten"))
    v2 = parsed(field("ho_ten", previous_names=["ten"]))
    back = parsed(field("ten", previous_names=["ho_ten"]))
    assert check_evolution([v1, v2], back) == []
    assert rename_map(back, [v1, v2]) == {"ho_ten": "ten"}
    silent = parsed(field("ten"))  # `ho_ten` dropped, `ten` back: which field is it?
    assert codes(check_evolution([v1, v2], silent)) == [("fields[0].name", "name_reused")]


def test_a_previous_name_must_name_where_the_data_went() -> None:
    v1 = parsed(field("x"), field("a"))
    v2 = parsed(field("x"), field("b", previous_names=["a"]))
    v3 = parsed(field("x"))
    wrong = parsed(field("x"), field("c", previous_names=["a"]))  # v2's data is under `b`
    errors = check_evolution([v1, v2, v3], wrong)
    assert codes(errors) == [("fields[1].previous_names[0]", "name_reused")]
    right = parsed(field("x"), field("c", previous_names=["a", "b"]))
    assert check_evolution([v1, v2, v3], right) == []


def test_a_name_reused_inside_a_group_has_the_nested_path() -> None:
    v1 = parsed(group("ben", field("ten")))
    v2 = parsed(group("ben", field("ho_ten", previous_names=["ten"])))
    v3 = parsed(group("ben", field("ho_ten"), field("ten")))
    assert codes(check_evolution([v1, v2], v3)) == [("fields[0].fields[1].name", "name_reused")]


def test_only_what_the_new_version_brings_is_refused() -> None:
    """A form published with a reused name, a collision and a type change before these were
    checked can still get new versions; a new version's own problems are still refused."""
    v1 = parsed(field("ten"), field("ho"), field("y"), group("g", field("x")))
    v2 = parsed(
        field("ho_ten", previous_names=["ten"]),
        field("y", previous_names=["ho"]),
        group("g2", field("x", "integer"), previous_names=["g"]),
    )

    def v3(x_type: str = "integer", *more: dict[str, Any]) -> FormDef:
        return parsed(
            field("ho_ten"),
            field("ten"),
            field("y", previous_names=["ho"]),
            group("g2", field("x", x_type)),
            *more,
        )

    assert check_evolution([v1, v2, v3()], v3("integer", field("moi"))) == []
    assert codes(check_evolution([v1, v2, v3()], v3("integer", field("g")))) == [
        ("fields[4].name", "name_reused")
    ]
    assert codes(check_evolution([v1, v2, v3()], v3("date"))) == [
        ("fields[3].fields[0]", "type_changed")
    ]


# --- type changes through renamed groups ---------------------------------------------------------


def test_a_type_change_inside_a_renamed_group_is_refused() -> None:
    v1 = parsed(group("g", field("x")))
    v2 = parsed(group("g2", field("x", "integer"), previous_names=["g"]))
    errors = check_evolution([v1], v2)
    assert codes(errors) == [("fields[0].fields[0]", "type_changed")]
    assert "'g.x' was text in version 1" in errors[0].message


def test_a_type_change_of_a_renamed_field_inside_a_renamed_group_is_refused() -> None:
    v1 = parsed(group("g", field("a"), field("x")))
    v2 = parsed(group("g2", field("a"), field("y", previous_names=["x"]), previous_names=["g"]))
    v3 = parsed(
        group("g3", field("a"), field("z", "date", previous_names=["y"]), previous_names=["g2"])
    )
    assert check_evolution([v1], v2) == []
    assert codes(check_evolution([v1, v2], v3)) == [("fields[0].fields[1]", "type_changed")]


def test_a_type_change_in_a_group_inside_a_group_is_refused() -> None:
    v1 = parsed(group("g", group("h", field("x", "integer"))))
    v2 = parsed(group("g", group("h2", field("x", "decimal"), previous_names=["h"])))
    assert codes(check_evolution([v1], v2)) == [("fields[0].fields[0].fields[0]", "type_changed")]


# --- where each version's data goes ---------------------------------------------------------------


def test_places_name_every_field_of_every_version_under_its_latest_path() -> None:
    v1 = parsed(group("ben", field("ten")), field("a"))
    v2 = parsed(group("cac_ben", field("ho_ten", previous_names=["ten"]), previous_names=["ben"]))
    places = {(p.version, p.dotted): p.latest for p in evolve([v1, v2]).places}
    assert places == {
        (1, "ben"): "cac_ben",
        (1, "a"): "a",
        (1, "ben.ten"): "cac_ben.ho_ten",
        (2, "cac_ben"): "cac_ben",
        (2, "cac_ben.ho_ten"): "cac_ben.ho_ten",
    }
    assert [name for name, _ in walk(v2.fields)] == ["cac_ben", "cac_ben.ho_ten"]


@pytest.mark.parametrize("version", [1, 2])
def test_the_real_forms_evolve(version: int) -> None:
    versions = [parse_definition(hoa_giai(v)) for v in range(1, version + 1)]
    assert check_evolution(versions[:-1], versions[-1]) == []


# --- data of removed fields: checked, not refused -------------------------------------------


def test_a_removed_sub_field_is_accepted_in_later_items_and_checked_by_its_last_definition() -> (
    None
):
    """v1's group item had `ten`; v2 removed it and renamed the group. A record keeps the
    v1 values, and an officer editing an item on v2 sends the item back with them."""
    v1 = parsed(group("nhom", field("ten", required=True, max_length=5), field("tuoi", "integer")))
    v2 = parsed(group("nhom2", field("tuoi", "integer"), previous_names=["nhom"]))
    v3 = parsed(
        group("nhom2", field("tuoi", "integer"), field("moi")),
        field("ghi_chu"),
    )
    checked = with_retired([v1, v2, v3])
    assert [f.name for f in checked[2].fields[0].fields] == ["tuoi", "moi", "ten"]
    validate = compile_form(checked[2], 3)
    data, errors = validate({"nhom2": [{"tuoi": 3, "ten": "An"}]}, creating=False)
    assert errors == []
    assert data == {"nhom2": [{"ten": "An", "tuoi": 3}]}
    # checked by its last definition (at most 5 characters), never required
    _, errors = validate({"nhom2": [{"ten": "Nguyễn Văn An"}]}, creating=True)
    assert [(e.path, e.code) for e in errors] == [("nhom2[0].ten", "max_length")]
    # what no version had is still unknown, and a later field is unknown to an earlier one
    _, errors = validate({"nhom2": [{"khong_co": 1}]}, creating=False)
    assert [e.code for e in errors] == ["unknown_field"]
    _, errors = compile_form(checked[1], 2)({"nhom2": [{"moi": "x"}]}, creating=False)
    assert [e.code for e in errors] == ["unknown_field"]
    # v2 (the group under its v2 name) takes the removed field too; v1 has it as its own
    assert [f.name for f in checked[1].fields[0].fields] == ["tuoi", "ten"]
    assert checked[0] is v1
    # the published definitions themselves are untouched
    assert [f.name for f in v3.fields[0].fields] == ["tuoi", "moi"]


def test_a_field_removed_then_brought_back_is_still_taken_by_the_version_between() -> None:
    """v1 `g{x, y}, a, z`; v2 `g{y}, z`; v3 `g{y, x}, z, a`. An officer who edited the case
    on v2, offline, sends the group item back with its `x` and `a` kept: taken while no
    version had them again, refused once v3 brought them back (the edit stranded, its fix
    refused again). Taken now, checked by v1's definitions, which v2's data was made under
    (v3's tighter one refused a value the officer on v2 cannot see, and an item stored before
    v3 when sent again: found by a probe); a field first added after v2 is still v2's
    unknown."""
    v1 = parsed(group("g", field("x", max_length=5), field("y")), field("a"), field("z"))
    v2 = parsed(group("g", field("y")), field("z"))
    v3 = parsed(
        group("g", field("y"), field("x", max_length=3)),
        field("z"),
        field("a", "text"),
        field("moi"),
    )
    validate = compile_form(with_retired([v1, v2, v3])[1], 2)
    data, errors = validate({"g": [{"x": "X1", "y": "Y1"}], "a": "A"}, creating=False)
    assert errors == [] and data == {"g": [{"x": "X1", "y": "Y1"}], "a": "A"}
    _, errors = validate({"g": [{"x": "XXXX"}]}, creating=False)
    assert errors == []  # v3's max_length 3 is not v2's data's
    _, errors = validate({"g": [{"x": "XXXXXX"}]}, creating=False)
    assert codes(errors) == [("g[0].x", "max_length")]  # v1's definition
    _, errors = validate({"moi": "m"}, creating=False)
    assert codes(errors) == [("moi", "unknown_field")]


def test_a_field_removed_then_brought_back_renamed_is_taken_under_each_of_its_names() -> None:
    """v1 `g{ho_ten, tuoi}, so_luong`; v2 removes `tuoi` and `so_luong`; v3 brings them back
    as `tuoi_moi` and `sl` (previous_names). v2's data holds `tuoi` and `so_luong` (what the
    records held then): refused once v3 was out, the offline edit stranded and an item stored
    before sent again `rejected` (found by a probe). A record read since holds the new names:
    taken too. Two names of one field in one item are one value lost: refused."""
    v1 = parsed(group("g", field("ho_ten"), field("tuoi", "integer")), field("so_luong", "integer"))
    v2 = parsed(group("g", field("ho_ten")))
    v3 = parsed(
        group("g", field("ho_ten"), field("tuoi_moi", "integer", previous_names=["tuoi"])),
        field("sl", "integer", previous_names=["so_luong"]),
    )
    checked = with_retired([v1, v2, v3])
    validate = compile_form(checked[1], 2)
    for data in (
        {"g": [{"ho_ten": "A", "tuoi": 30}], "so_luong": 9},
        {"g": [{"ho_ten": "A", "tuoi_moi": 30}], "sl": 9},
    ):
        out, errors = validate(data, creating=False)
        assert errors == [] and out == data
        # kept under the latest names, whichever came
        latest = renamed(out, rename_map(v3, [v1, v2]))
        assert latest == {"g": [{"ho_ten": "A", "tuoi_moi": 30}], "sl": 9}
    _, errors = validate(
        {"g": [{"tuoi": 1, "tuoi_moi": 2}], "so_luong": 1, "sl": 2}, creating=False
    )
    assert codes(errors) == [("g[0].tuoi_moi", "duplicate"), ("sl", "duplicate")]
    assert "'tuoi' and 'tuoi_moi' name one field" in errors[0].message
    _, errors = validate({"g": [{"khong_co": 1}]}, creating=False)
    assert codes(errors) == [("g[0].khong_co", "unknown_field")]
    # v1 and v3 have the field as their own, under one name each
    assert codes(compile_form(checked[0], 1)({"sl": 1}, creating=False)[1]) == [
        ("sl", "unknown_field")
    ]
    assert codes(compile_form(checked[2], 3)({"so_luong": 1}, creating=False)[1]) == [
        ("so_luong", "unknown_field")
    ]
    # publishing the definitions it was checked with does not see the names as two fields
    assert check_evolution([v1, v2, v3], v3) == []


def test_the_latest_version_takes_a_removed_field_under_its_latest_name_only() -> None:
    """v1 `a`; v2 renames it `b`; v3 removes it. v3's data is stored under its names as they
    are (only older versions' are renamed): v3 taking `a` too stored `{"a": 7, "b": 8}` with
    no conflict, and the export showed only 8 (found by a regression probe)."""
    v1 = parsed(field("ten"), field("a", "integer"))
    v2 = parsed(field("ten"), field("b", "integer", previous_names=["a"]))
    v3 = parsed(field("ten"))
    checked = with_retired([v1, v2, v3])
    latest = compile_form(checked[2], 3)
    assert latest({"b": 8}, creating=False)[1] == []
    assert codes(latest({"a": 7}, creating=False)[1]) == [("a", "unknown_field")]
    # one version later, v3 is an older one: its data is renamed, and takes both
    checked = with_retired([v1, v2, v3, parsed(field("ten"), field("moi"))])
    assert compile_form(checked[2], 3)({"a": 7}, creating=False)[1] == []


def test_a_removed_top_level_field_is_accepted_optional() -> None:
    v1 = parsed(field("a", required=True), field("b"))
    v2 = parsed(field("b"))
    checked = with_retired([v1, v2])
    assert [(f.name, f.required) for f in checked[1].fields] == [("b", False), ("a", False)]
    assert with_retired([v2]) == [v2]


def test_a_previous_name_no_earlier_version_had_is_refused() -> None:
    """A misspelt previous name would map nothing and leave the data of the name meant where
    it was: refused, at the entry, inside a repeat group too."""
    v1 = parsed(field("hoa_giai_vien"), field("g", "repeat", fields=[field("ten")]))
    typo = field("to_hoa_giai", previous_names=["hoa_giai_vein"])
    inner = field("g", "repeat", fields=[field("ho_ten", previous_names=["tne"])])
    errors = check_evolution([v1], parsed(typo, inner))
    assert codes(errors) == [
        ("fields[0].previous_names[0]", "unknown_previous_name"),
        ("fields[1].fields[0].previous_names[0]", "unknown_previous_name"),
    ]
    assert "'hoa_giai_vein'" in errors[0].message and " / " in errors[0].message
    right = field("to_hoa_giai", previous_names=["hoa_giai_vien"])
    assert check_evolution([v1], parsed(right, field("g", "repeat", fields=[field("ten")]))) == []


def test_a_removed_group_inside_a_kept_one_keeps_every_choice_in_one_order() -> None:
    """v1 `gg{ten, hh{m: a c x}}`; v2 lists m as `c a` and drops x; v3 removes hh. Data of
    v3 still holds hh (a group sent back whole): its m takes x, and keeps one order."""
    choices = [{"value": v, "label": L} for v in ("a", "c", "x")]
    inner = field("m", "select_multiple", choices=choices)
    v1 = parsed(field("gg", "repeat", fields=[field("ten"), field("hh", "repeat", fields=[inner])]))
    reordered = {**inner, "choices": [choices[1], choices[0]]}
    v2 = parsed(
        field("gg", "repeat", fields=[field("ten"), field("hh", "repeat", fields=[reordered])])
    )
    v3 = parsed(field("gg", "repeat", fields=[field("ten")]))
    checked = with_retired([v1, v2, v3])
    for n, form in enumerate(checked, start=1):
        data, errors = compile_form(form, n)(
            {"gg": [{"ten": "t", "hh": [{"m": ["c", "x", "a"]}]}]}, creating=True
        )
        assert errors == [], (n, errors)
        assert data["gg"][0]["hh"][0]["m"] == ["a", "c", "x"]


def test_previous_names_in_a_first_version_are_left_alone() -> None:
    """A fresh database given only a form's latest definition (which lists the names it had
    elsewhere) publishes it: no earlier version, nothing to misspell against."""
    first = parsed(field("to_hoa_giai", previous_names=["hoa_giai_vien"]))
    assert check_evolution([], first) == []
    group = field("g", "repeat", fields=[field("ten", previous_names=["ho_ten"])])
    assert check_evolution([parsed(field("a"))], parsed(field("a"), group)) == []
