"""An export's table: its columns, one set for every version of a form, and one row of cell
values per stored record.

The columns come from every published version of the form: the latest version's fields
first and in its order, renamed fields under their newest name, then fields since removed
(newest version first), so removing a field never hides data already collected. Geopoints
split into `<name>_lat`/`<name>_lon`/`<name>_alt`/`<name>_accuracy`, select_multiple values
are space-separated, repeat groups are JSON text in CSV and XLSX and nested in JSONL. Record
columns go around them: `record_id`, `area`, `area_name` first; `revision`, `conflicts`,
`updated_at` last.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any, Literal

import msgspec

from server import areas
from server.evolution import evolve
from server.forms import Choice, Field, FormDef
from server.protocol import Label

# --- columns -------------------------------------------------------------------------------

Kind = Literal["value", "lat", "lon", "alt", "accuracy", "multiple", "repeat"]


@dataclass(frozen=True, slots=True)
class Subfield:
    """A field inside a repeat group's column (in its JSON), at any depth, of any version."""

    path: str  # dotted from the group, under the latest names (`sub.y` in `nhom[].sub[].y`)
    field: Field  # its newest definition
    note: str = ""  # renamed from, removed after


@dataclass(frozen=True, slots=True)
class Column:
    """One export column. Field columns read `keys` from `data`, the newest name first."""

    name: str
    label: Label
    type: str = ""
    kind: Kind = "value"
    keys: tuple[str, ...] = ()
    choices: tuple[Choice, ...] = ()
    note: str = ""
    subfields: tuple[Subfield, ...] = ()  # a repeat's fields, at every depth
    # choices only earlier versions had, with the last version that had each, for the
    # column ("") and for its subfields (by their dotted path)
    earlier_choices: tuple[tuple[str, tuple[tuple[Choice, int], ...]], ...] = ()


_HEAD = (
    Column("record_id", Label("Mã bản ghi", "Record id"), "text"),
    Column("area", Label("Mã địa bàn", "Area code"), "text"),
    Column("area_name", Label("Tên địa bàn", "Area name"), "text"),
)
_TAIL = (
    Column("revision", Label("Số lần gửi đã hợp nhất", "Revision (submissions merged)"), "integer"),
    Column(
        "conflicts",
        Label("Trường đang xung đột", "Fields in conflict"),
        "text",
        note="tên các trường, cách nhau bằng dấu cách (danh sách trong JSONL) / "
        "field names, space-separated (a list in JSONL)",
    ),
    Column("updated_at", Label("Cập nhật lúc", "Last updated"), "datetime"),
)


def columns(versions: Sequence[FormDef]) -> list[Column]:
    """The export's columns for a form with these versions (oldest first)."""
    evolution = evolve(versions)
    # every field of every version at every level, by its latest dotted path -> (its newest
    # definition, the last version that had it); the latest version's first, in its order,
    # then those since removed, newest version first
    fields: dict[str, tuple[Field, int]] = {}
    # newest dotted name -> value -> (choice, the last version that had it), newest first
    offered: dict[str, dict[str, tuple[Choice, int]]] = {}
    for place in sorted(evolution.places, key=lambda p: -p.version):
        fields.setdefault(place.latest, (place.field, place.version))
        for c in place.field.choices or ():
            offered.setdefault(place.latest, {}).setdefault(c.value, (c, place.version))
    olds: dict[str, list[str]] = {}  # latest dotted path -> the names it had before
    for old, name in evolution.renames.items():
        parent, _, before = old.rpartition(".")
        olds.setdefault(f"{parent}.{name}" if parent else name, []).append(before)
    children: dict[str, list[str]] = {}  # dotted path ("" for the form) -> its fields' paths
    for dotted in fields:
        children.setdefault(dotted.rpartition(".")[0], []).append(dotted)

    def earlier(dotted: str, f: Field) -> tuple[tuple[Choice, int], ...]:
        now = {c.value for c in f.choices or ()}
        return tuple(v for value, v in offered.get(dotted, {}).items() if value not in now)

    def notes(dotted: str, version: int) -> list[str]:
        out = []
        if names := ", ".join(sorted(olds.get(dotted, []))):
            out.append(f"đổi tên từ {names} / renamed from {names}")
        if version < len(versions):
            out.append(f"không còn sau phiên bản {version} / removed after version {version}")
        return out

    def inside(dotted: str) -> Iterator[str]:
        """The paths of every field inside the group at `dotted`, each followed by its own."""
        for path in children.get(dotted, ()):
            yield path
            yield from inside(path)

    taken = {c.name for c in (*_HEAD, *_TAIL)}
    names = set(children.get("", ()))  # the form's own fields, at the top
    out = list(_HEAD)
    for name in children.get("", ()):
        f, version = fields[name]
        inner = list(inside(name))
        subfields = tuple(
            Subfield(p[len(name) + 1 :], fields[p][0], "\n".join(notes(p, fields[p][1])))
            for p in inner
        )
        base = Column(
            name=name,
            label=f.label,
            type=f.type,
            keys=(name, *sorted(olds.get(name, []))),
            choices=tuple(f.choices or ()),
            note="\n".join(notes(name, version)),
            earlier_choices=tuple(
                (p[len(name) + 1 :], cs)
                for p, cs in ((p, earlier(p, fields[p][0])) for p in (name, *inner))
                if cs
            ),
        )
        if f.type == "geopoint":
            parts = [
                _part(base, f"{name}_lat", "lat", "vĩ độ", "latitude"),
                _part(base, f"{name}_lon", "lon", "kinh độ", "longitude"),
                # optional in a geopoint, and kept: an export never drops a value collected
                _part(base, f"{name}_alt", "alt", "độ cao, m", "altitude, m"),
                _part(base, f"{name}_accuracy", "accuracy", "độ chính xác, m", "accuracy, m"),
            ]
        elif f.type == "select_multiple":
            parts = [replace(base, kind="multiple")]
        elif f.type == "repeat":
            parts = [replace(base, kind="repeat", subfields=subfields)]
        else:
            parts = [base]
        for col in parts:
            unique, n = col.name, 2
            # A field's own column keeps its name, whatever the order of the fields in any
            # version, so a header always holds the same field; a geopoint's parts (`x_lat`
            # beside a field `x_lat`) and a field named like a record column get `_2` (or
            # the next number that is no other column's and no field's name)
            mine = name if col.kind not in ("lat", "lon", "alt", "accuracy") else ""
            while unique in taken or (unique in names and unique != mine):
                unique, n = f"{col.name}_{n}", n + 1
            taken.add(unique)
            out.append(replace(col, name=unique))
    out.extend(_TAIL)
    return out


def _part(col: Column, name: str, kind: Kind, vi: str, en: str) -> Column:
    label = Label(f"{col.label.vi} ({vi})", f"{col.label.en} ({en})")
    return replace(col, name=name, kind=kind, label=label)


# --- rows ----------------------------------------------------------------------------------


class _Named(msgspec.Struct):
    field: str


class _Doc(msgspec.Struct):
    """What an export reads of a stored record (protocol.Record); other keys are skipped."""

    record_id: str
    area: str
    data: dict[str, Any]
    revision: int
    conflicts: list[_Named]
    updated_at: str
    form_version: int = 0


_decode_doc = msgspec.json.Decoder(_Doc).decode
_SCALAR = (str, int, float, Decimal)


def _decode(doc: str | bytes) -> _Doc:
    try:
        return _decode_doc(doc)
    except msgspec.DecodeError:
        # Numbers msgspec refuses but an older database may hold (1e400, NaN, Infinity, an
        # integer of over 4,300 digits): kept exactly, as a Decimal or as the word itself.
        obj = json.loads(doc, parse_float=_float, parse_int=_int, parse_constant=str)
        return msgspec.convert(obj, _Doc)


def _float(text: str) -> float | Decimal:
    number = float(text)
    return number if math.isfinite(number) else Decimal(text)


def _int(text: str) -> int | Decimal:
    try:
        return int(text)
    except ValueError:  # past sys.get_int_max_str_digits()
        return Decimal(text)


def rows(
    docs: Iterable[str | bytes],
    cols: Sequence[Column],
    *,
    nested: bool,
    known: int = 0,
    later: Callable[[], Mapping[str, str]] | None = None,
) -> Iterator[list[Any]]:
    """One list of cell values per record: str, int, float, Decimal, bool or None, and with
    `nested` (JSONL) lists for repeat groups and conflicts, which are otherwise text.

    `cols` are of the form's first `known` versions. A record derived under a version
    published since, while the export streams, has its fields under that version's names:
    `later()` gives the renames of now (earlier names -> latest), by which each is read
    under the name a column has for it, never left out as no column's."""
    fields = cols[len(_HEAD) : len(cols) - len(_TAIL)]
    names: dict[str, str | None] = {}
    keys = {key for col in fields for key in col.keys}
    to_column: dict[int, dict[str, str]] = {}  # version -> a name in it -> the column's key

    def under_columns(data: dict[str, Any], version: int) -> dict[str, Any]:
        if version <= known or later is None:
            return data
        if version not in to_column:
            renames = later()
            latest = {renames.get(key, key): key for key in keys}
            to_column[version] = {
                name: latest[new] for name, new in renames.items() if new in latest
            } | latest
        mapping = to_column[version]
        return {mapping.get(name, name): value for name, value in data.items()}

    encode = msgspec.json.Encoder(decimal_format="number").encode

    def text(value: Any) -> Any:
        """A scalar as it is, anything else (a list, an object) as JSON text."""
        return value if isinstance(value, _SCALAR) else encode(value).decode()

    for doc in docs:
        rec = _decode(doc)
        if rec.area not in names:
            names[rec.area] = areas.name(rec.area)
        row: list[Any] = [rec.record_id, rec.area, names[rec.area]]
        data = under_columns(rec.data, rec.form_version)
        for col in fields:
            value = None
            for key in col.keys:
                if key in data:
                    value = data[key]
                    break
            if value is None:
                row.append(None)
            elif col.kind == "value":
                row.append(text(value))
            elif col.kind in ("lat", "lon", "alt", "accuracy"):
                part = value.get(col.kind) if isinstance(value, dict) else None
                row.append(None if part is None else text(part))
            elif col.kind == "multiple":
                row.append(" ".join(map(str, value)) if isinstance(value, list) else text(value))
            else:  # repeat
                row.append(value if nested else text(value))
        conflicts = [c.field for c in rec.conflicts]
        row += [rec.revision, conflicts if nested else " ".join(conflicts), rec.updated_at]
        yield row
