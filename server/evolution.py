"""Form evolution: under which latest name the data of every earlier version is kept, and the
checks that keep each value there when a new version is published.

Pure: no HTTP, no SQL. One level of sibling fields (the form's, or a repeat group's) is read
version after version: each field takes over the names it claims (its own and its
`previous_names`) with every older name whose data had come to one of them. A name then
leads to the field its data belongs to now; a field removed since keeps its last name.

A new version is refused (every problem at once, each with a path into it) when it would
lose or misfile data of an earlier version:
- `type_changed`: a field, under any of its names, inside renamed groups too, had another type;
- `rename_collision`: two fields of one earlier version would come to the same name, and
  each record would keep the value of only one;
- `name_reused`: a name whose data went to another field by a rename is taken by a field that
  is not that one (data of the versions before the rename would be read as the new field's);
- `unknown_previous_name`: a previous name no earlier version had at that level (misspelt,
  it would map nothing, and the data of the name meant would stay where it was).
Only what the new version brings is refused: a form published with one of these before they
were checked can still get new versions.
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
from dataclasses import dataclass, field

import msgspec

from server.forms import Choice, Field, FormDef
from server.protocol import FieldError


@dataclass(slots=True, frozen=True)
class Place:
    """One field of one version, and where its data is kept now."""

    version: int
    dotted: str  # its dotted path in that version (`ben.ten`)
    field: Field
    latest: str  # its dotted path under the latest names (`cac_ben.ho_ten`)


@dataclass(slots=True)
class Evolution:
    renames: dict[str, str] = field(default_factory=dict)  # see rename_map
    places: list[Place] = field(default_factory=list)
    errors: list[FieldError] = field(default_factory=list)  # those the last version brings


# One level of fields in each version that has it, oldest first: (version, the dotted prefix
# of the level in that version, its fields).
_Lists = list[tuple[int, str, Sequence[Field]]]


def evolve(versions: Sequence[FormDef]) -> Evolution:
    """Where the data of every field of every version (oldest first) is kept under the last
    version's names, and the problems the last version brings."""
    out = Evolution()
    lists: _Lists = [(n, "", v.fields) for n, v in enumerate(versions, start=1)]
    _level(lists, len(versions), "fields", "", out)
    return out


def with_retired(versions: Sequence[FormDef], *, aliases: bool = True) -> list[FormDef]:
    """Each version (oldest first) as its data is checked: with the fields removed before the
    latest version added, optional, at each level the version has, and with every choice any
    version of a field had. A record keeps what a removed field or choice collected, inside
    repeat group items too; a client that edits a group sends its items back whole, with
    those values, and a supervisor may settle a conflict on one of them: they must not be
    refused (PROTOCOL: removing a field from a form never hides data already collected).

    A removed field is taken, on a version before the latest, under every name it has had
    that this version does not give another field (on the latest, whose data is stored
    unrenamed, under its latest name only): an item carries the name the record held when
    the phone read it (the field's name then, or a later one, after a version brought the
    field back renamed), and two of them in one item are refused (validate.py: they are one
    field). It is checked by its definition in the last version before this one that had it,
    else the first after: what this version's data was made under. A version published later
    never refuses what this version's data held, nor an item stored before it when sent
    again.

    The choices of a field come in one order for every version: the first version's, then
    the choices each later version brought, after them, in its order. A select_multiple is
    kept in that order (server/validate.py), so that the same boxes ticked on phones with
    versions that order the choices otherwise are one value, never a conflict.

    `aliases=False`: each removed field under its latest name only, as its data is kept (what
    check_evolution looks for collisions with)."""
    evolution = evolve(versions)
    alive = {p.latest for p in evolution.places if p.version == len(versions)}
    history: dict[str, list[Place]] = {}  # latest dotted path -> its places, in version order
    for place in evolution.places:
        history.setdefault(place.latest, []).append(place)
    choices = _all_choices(evolution.places)
    out = []
    for n, version in enumerate(versions, start=1):
        # where each level of this version keeps its data: latest dotted path -> field
        mine = {p.latest: p for p in evolution.places if p.version == n}
        taken = {(p.latest.rpartition(".")[0], p.field.name) for p in mine.values()}
        retired: dict[str, list[Field]] = {}
        for path, places in history.items():
            parent, _, latest_name = path.rpartition(".")
            if path in mine or (parent and parent not in mine):
                continue  # this version's own field, or a level this version has not
            if path in alive and places[0].version > n:
                continue  # a field the latest version has that came after this one: not its
            # (one the latest has again after this version removed it is: an item made when
            # the group had it goes back with it on this version, as for one removed for good)
            before = [p for p in places if p.version < n]
            near = before[-1] if before else places[0]
            # the latest version's data is stored under its names as they are (derive renames
            # only older versions'): its old names would be kept beside the latest, unmerged
            names = (
                [near.field.name, *(p.field.name for p in places), latest_name]
                if aliases and n < len(versions)
                else [latest_name]
            )
            free = [
                name
                for name in dict.fromkeys(names)
                if (parent, name) not in taken  # the name is this version's, another field's
            ]
            if not free:
                continue
            taken.update((parent, name) for name in free)
            gone = msgspec.structs.replace(
                _every_choice(near.field, path, choices), required=False, previous_names=None
            )
            level = retired.setdefault(parent, [])
            # the first name lists the others: validate.py refuses two of them in one item
            level.append(
                msgspec.structs.replace(gone, name=free[0], previous_names=free[1:] or None)
            )
            level += [msgspec.structs.replace(gone, name=name) for name in free[1:]]
        latest_of = {id(p.field): p.latest for p in evolution.places if p.version == n}
        out.append(_extend(version, retired, latest_of, choices))
    return out


def _every_choice(f: Field, path: str, choices: dict[str, list[Choice]]) -> Field:
    """A removed field, at latest dotted path `path`, with the choices of every version, the
    fields of a removed group too (at `path.name`: their names when it was removed)."""
    every = choices.get(path)
    if f.choices is not None and every is not None and every != f.choices:
        f = msgspec.structs.replace(f, choices=every)
    if f.fields:
        inner = [_every_choice(g, f"{path}.{g.name}", choices) for g in f.fields]
        f = msgspec.structs.replace(f, fields=inner)
    return f


def _all_choices(places: Sequence[Place]) -> dict[str, list[Choice]]:
    """Latest dotted path -> every choice its field had in any version, in the order of the
    first version, then each later one's new choices where they first came."""
    out: dict[str, list[Choice]] = {}
    for place in sorted(places, key=lambda p: p.version):  # stable: in order within a version
        if place.field.choices is None:
            continue
        have = out.setdefault(place.latest, [])
        seen = {c.value for c in have}
        for choice in place.field.choices:
            if choice.value not in seen:
                seen.add(choice.value)
                have.append(choice)
    return out


def _extend(
    version: FormDef,
    retired: dict[str, list[Field]],
    latest_of: dict[int, str],
    choices: dict[str, list[Choice]],
) -> FormDef:
    """`version` with `retired[level]` appended to each level (keyed by latest dotted path),
    and the choices of every version in each select field's; `latest_of`: id of each of the
    version's fields -> its latest dotted path."""

    def one(f: Field) -> Field:
        latest = latest_of[id(f)]
        if f.fields:
            inner = level(f.fields, latest)
            if len(inner) != len(f.fields) or not all(map(operator.is_, inner, f.fields)):
                f = msgspec.structs.replace(f, fields=inner)
        every = choices.get(latest)
        if f.choices is not None and every is not None and every != f.choices:
            f = msgspec.structs.replace(f, choices=every)
        return f

    def level(fields: Sequence[Field], key: str) -> list[Field]:
        return [one(f) for f in fields] + retired.get(key, [])

    fields = level(version.fields, "")
    if len(fields) == len(version.fields) and all(map(operator.is_, fields, version.fields)):
        return version  # nothing removed before it, no choice it lacks
    return msgspec.structs.replace(version, fields=fields)


def check_evolution(earlier: Sequence[FormDef], new: FormDef) -> list[FieldError]:
    """What would be lost or misfiled if `new` were published after `earlier`. Two fields
    that would come to one name are looked for in the earlier versions as their data is
    checked too: with the fields removed before them, whose data a record keeps beside the
    field a new version would rename a removed one to."""
    errors = evolve([*earlier, new]).errors
    seen = {(e.path, e.code) for e in errors}
    for e in evolve([*with_retired(earlier, aliases=False), new]).errors:
        if e.code == "rename_collision" and (e.path, e.code) not in seen:
            seen.add((e.path, e.code))
            vi, _, en = e.message.partition(" / ")
            message = (
                f"{vi} (một trong hai trường đã bị bỏ ở phiên bản trước, dữ liệu của nó vẫn "
                f"được giữ) / {en} (one of them was removed before: its data is still kept)"
            )
            errors.append(FieldError(e.path, e.code, message))
    return errors


def rename_map(latest: FormDef, earlier: Sequence[FormDef] = ()) -> dict[str, str]:
    """Old names -> the names data is kept under now, following chains of renames across
    versions (v2 renames a to b, v3 renames b to c: a maps to c even when v3 lists only b).
    A chain that ends in a field removed since maps to that field's last name. Fields inside
    a repeat group appear as `group.old` -> `new` (`group.inner.old` one level down), the
    groups under their latest names."""
    return evolve([*earlier, latest]).renames


def _level(lists: _Lists, n: int, path: str, prefix: str, out: Evolution) -> None:
    """One level: its renames and places into `out`, and, when version `n` has the level
    (its fields at `path`), the problems it brings; then the repeat groups inside it."""
    owner: dict[str, str] = {}  # every name used at this level -> the field it leads to
    before = owner
    for k, _, fields in lists:
        if k == n:
            before = dict(owner)
        claimed = {c: f.name for f in fields for c in (f.name, *(f.previous_names or ()))}
        owner.update({x: claimed[o] for x, o in owner.items() if o in claimed})
        owner.update(claimed)
    out.renames.update({prefix + x: o for x, o in owner.items() if x != o})
    out.places.extend(
        Place(k, pk + f.name, f, prefix + owner[f.name]) for k, pk, fields in lists for f in fields
    )
    new = lists[-1][2] if lists and lists[-1][0] == n else None
    if new is not None:
        _unknown_previous(new, before, path, out.errors)
        reused = _reused(new, before, path, out.errors)
        _collisions(lists, new, before, owner, path, out.errors)
        _type_changes(lists, new, owner, n, reused, path, out.errors)
    groups: dict[str, _Lists] = {}
    for k, pk, fields in lists:
        for f in fields:
            if f.fields:
                groups.setdefault(owner[f.name], []).append((k, f"{pk}{f.name}.", f.fields))
    index = {f.name: i for i, f in enumerate(new or ())}
    for name, inner in groups.items():
        _level(inner, n, f"{path}[{index.get(name)}].fields", f"{prefix}{name}.", out)


def _unknown_previous(
    new: Sequence[Field], before: dict[str, str], path: str, errors: list[FieldError]
) -> None:
    """A previous name that no earlier version had at this level: a misspelt one would leave
    the data of the name meant where it was, and bring nothing."""
    if not before:  # a first version, or a level earlier versions did not have: none to map
        return
    for i, f in enumerate(new):
        for j, name in enumerate(f.previous_names or ()):
            if name not in before and name != f.name:
                errors.append(
                    FieldError(
                        f"{path}[{i}].previous_names[{j}]",
                        "unknown_previous_name",
                        f"không phiên bản nào trước có trường {name!r} ở đây: previous_names"
                        f" liệt kê các tên trường này từng có / no earlier "
                        f"version has a field {name!r} here: previous_names lists names this "
                        f"field had",
                    )
                )


def _reused(
    new: Sequence[Field], before: dict[str, str], path: str, errors: list[FieldError]
) -> set[str]:
    """A name the new version claims whose data had gone to a field it does not claim; the
    fields that claim one."""
    out = set()
    for i, f in enumerate(new):
        names = (f.name, *(f.previous_names or ()))
        for j, name in enumerate(names):
            went = before.get(name, name)
            if went in names:
                continue
            where = f"{path}[{i}].name" if j == 0 else f"{path}[{i}].previous_names[{j - 1}]"
            taker = ("trường này", "this field") if j == 0 else (repr(f.name), repr(f.name))
            message = (
                f"{name!r} đã được đổi tên thành {went!r} ở một phiên bản trước: dữ liệu của "
                f"nó giữ dưới tên {went!r}, và {taker[0]} sẽ lấy mất; hãy đặt tên khác, hoặc "
                f"ghi {went!r} vào previous_names nếu đây chính là trường đó được đổi tên lại / "
                f"{name!r} was renamed to {went!r} in an earlier version: its data is kept "
                f"under {went!r}, and {taker[1]} would take it; use another name, or list "
                f"{went!r} in previous_names if this is that same field renamed back"
            )
            errors.append(FieldError(where, "name_reused", message))
            out.add(f.name)
    return out


def _collisions(
    lists: _Lists,
    new: Sequence[Field],
    before: dict[str, str],
    owner: dict[str, str],
    path: str,
    errors: list[FieldError],
) -> None:
    """Two fields of one earlier version that the new version's renames bring together."""
    index = {f.name: i for i, f in enumerate(new)}
    reported = set()
    for k, pk, fields in lists[:-1]:
        # the new name of each of this version's fields -> the name each came from just before
        arrive: dict[str, dict[str, str]] = {}
        for f in fields:
            arrive.setdefault(owner[f.name], {}).setdefault(before.get(f.name, f.name), f.name)
        for target, sources in arrive.items():
            if len(sources) < 2 or target not in index:
                continue
            i = index[target]
            claims = [target, *(new[i].previous_names or ())]
            # the field that had the name already keeps it, else the first one listed
            order = sorted(sources, key=lambda b: claims.index(b) if b in claims else len(claims))
            kept = sources[order[0]]
            for b in order[1:]:
                where = (
                    f"{path}[{i}].previous_names[{claims.index(b) - 1}]"
                    if b in claims
                    else f"{path}[{i}]"
                )
                if where in reported:
                    continue
                reported.add(where)
                one, other = pk + sources[b], pk + kept
                message = (
                    f"{one!r} và {other!r} là hai trường của phiên bản {k}: cả hai sẽ được giữ "
                    f"dưới tên {target!r}, và mỗi hồ sơ sẽ mất một trong hai giá trị; hãy đổi "
                    f"tên một trường thành tên riêng / {one!r} and {other!r} are two fields of "
                    f"version {k}: both would be kept as {target!r}, and each record would lose "
                    f"one of their values; rename one of them to a name of its own"
                )
                errors.append(FieldError(where, "rename_collision", message))


def _type_changes(
    lists: _Lists,
    new: Sequence[Field],
    owner: dict[str, str],
    n: int,
    reused: set[str],
    path: str,
    errors: list[FieldError],
) -> None:
    """A field of the new version that had another type under one of its names; a change
    already in the version before it (published before this was checked) is not the new
    version's doing, and a field that takes a name it may not has that error only."""
    index = {f.name: i for i, f in enumerate(new)}
    last: dict[str, tuple[int, str, str]] = {}  # new name -> the newest earlier other type
    same_before = set()
    for k, pk, fields in lists[:-1]:
        for f in fields:
            target = owner[f.name]
            if target not in index or target in reused:
                continue
            if f.type != new[index[target]].type:
                last[target] = (k, pk + f.name, f.type)
            elif k == n - 1:
                same_before.add(target)
    for target, (k, dotted, old_type) in last.items():
        if target in same_before:
            continue
        message = (
            f"{dotted!r} có kiểu {old_type} ở phiên bản {k}; một trường không bao giờ đổi "
            f"kiểu (hãy thêm một trường mới) / {dotted!r} was {old_type} in version {k}; a "
            f"field never changes type (add a new field instead)"
        )
        errors.append(FieldError(f"{path}[{index[target]}]", "type_changed", message))
