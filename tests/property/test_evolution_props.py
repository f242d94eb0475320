"""Properties of form evolution over generated histories of versions, against a model that
knows which field is which (an id that never changes, whatever the field is called):

(a) whatever a history of publishes does, the versions that are accepted lose and misfile
    nothing: each earlier version's data, mapped as records are (derive.renamed with the
    rename map), has every value under the name its own field has last, at every level of
    repeat groups, and no field ever changed type;
(b) a version made only of changes that keep every value where it belongs (add a field
    under a new name, remove one, rename one to a new name or back to a name it had, bring
    back a removed one) is always accepted; changing a type, folding one field into
    another, and giving a renamed-away name to a new field are the refused ones;
(c) spelling a definition differently (an empty list, `1.0` for `1`) never changes its hash.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from server.derive import renamed
from server.evolution import check_evolution, rename_map
from server.form_source import DefinitionError
from server.forms import FormDef, canonical, parse_definition
from tests.property.test_validate_props import definitions

LABEL = {"vi": "Nhãn", "en": "Label"}
LEAF_TYPES = ["text", "integer", "decimal", "date", "boolean"]


@dataclass
class Node:
    """One field as the model knows it: `id` is the field, `names` every name it had."""

    id: int
    type: str
    names: list[str]
    previous: list[str] = field(default_factory=list)  # previous_names in its definition
    children: list[Node] | None = None  # a repeat group's fields

    @property
    def name(self) -> str:
        return self.names[-1]


@dataclass
class Model:
    fields: list[Node]
    used: dict[int, set[str]]  # level (0, or a group's id) -> every name used there
    gone: dict[int, list[Node]]  # level -> fields removed from it
    count: int = 0

    def new_name(self) -> str:
        self.count += 1
        return f"f{self.count}"

    def new_node(self, level: int, type_: str, name: str | None = None) -> Node:
        self.count += 1
        node = Node(self.count, type_, [name or self.new_name()])
        self.used.setdefault(level, set()).add(node.name)
        if type_ == "repeat":
            node.children = [self.new_node(node.id, "text")]
        return node


def levels(nodes: list[Node], key: int = 0) -> list[tuple[int, list[Node]]]:
    out = [(key, nodes)]
    for n in nodes:
        if n.children is not None:
            out += levels(n.children, n.id)
    return out


def definition(nodes: list[Node]) -> dict[str, Any]:
    def one(n: Node) -> dict[str, Any]:
        f: dict[str, Any] = {"name": n.name, "type": n.type, "label": LABEL}
        if n.previous:
            f["previous_names"] = list(n.previous)
        if n.children is not None:
            f["fields"] = [one(c) for c in n.children]
        return f

    return {"form_id": "lich_su", "title": LABEL, "fields": [one(n) for n in nodes]}


def data(nodes: list[Node], name: dict[int, str] | None = None) -> dict[str, Any]:
    """A record of this version: each field's value names its id; under `name` if given."""
    return {
        (name[n.id] if name else n.name): (
            [data(n.children, name)] if n.children is not None else f"id{n.id}"
        )
        for n in nodes
    }


def renamed_away(model: Model, key: int) -> list[str]:
    """The names at one level that some field had and renamed away."""
    nodes = [*dict(levels(model.fields)).get(key, []), *model.gone.get(key, [])]
    return sorted({x for n in nodes for x in n.names[:-1]} - {n.name for n in nodes})


def change(draw: st.DrawFn, model: Model, published: Model, touched: set[int]) -> bool:
    """Apply one drawn change to `model`, a draft of the version after `published`; whether
    it keeps every value where it belongs. A field is changed once per version (`touched`):
    a definition says which name a field had in the version before, not in a draft."""
    key, everything = draw(st.sampled_from(levels(model.fields)))
    nodes = [n for n in everything if n.id not in touched]
    used, gone = model.used.setdefault(key, set()), model.gone.setdefault(key, [])
    reusable = renamed_away(published, key)
    kinds = ["add"]
    kinds += ["rename", "rename", "retype"] if nodes else []
    kinds += ["remove"] if nodes and len(everything) > 1 else []
    kinds += ["merge"] if len(nodes) > 1 else []
    kinds += ["back"] if any(len(set(n.names)) > 1 for n in nodes) else []
    back = [n for n in gone if n.id not in touched]
    kinds += ["bring_back"] if back else []
    kinds += ["reuse", "reuse"] if reusable else []
    kind = draw(st.sampled_from(kinds))
    if kind == "add":
        node = model.new_node(key, draw(st.sampled_from([*LEAF_TYPES, "repeat"])))
        everything.append(node)
        touched.add(node.id)
        touched.update(c.id for c in node.children or ())  # new too: no name before
    elif kind == "remove":
        # not a group with a field changed in this draft: unpublished, the change would come
        # back with the group (bring_back) as if it had been
        quiet = [
            n
            for n in nodes
            if not {c.id for _, cs in levels(n.children or []) for c in cs} & touched
        ]
        if not quiet:
            return True  # nothing to remove: no change
        node = draw(st.sampled_from(quiet))
        everything.remove(node)
        gone.append(node)
        touched.add(node.id)
    elif kind in ("rename", "back"):
        pick = [n for n in nodes if kind == "rename" or len(set(n.names)) > 1]
        node = draw(st.sampled_from(pick))
        touched.add(node.id)
        if kind == "rename":
            new = model.new_name()
            used.add(new)
        else:
            new = draw(st.sampled_from(sorted(set(node.names) - {node.name})))
        history = list(dict.fromkeys(x for x in node.names if x != new))
        node.previous = history if draw(st.booleans()) else [node.name]
        node.names.append(new)
    elif kind == "bring_back":
        node = draw(st.sampled_from(back))
        gone.remove(node)
        everything.append(node)
        touched.add(node.id)
    elif kind == "retype":
        leaves = [n for n in nodes if n.children is None]
        if not leaves:
            return True  # nothing to retype: no change
        node = draw(st.sampled_from(leaves))
        touched.add(node.id)
        node.type = draw(st.sampled_from([t for t in LEAF_TYPES if t != node.type]))
        return False
    elif kind == "merge":
        a, b = draw(st.permutations(nodes).map(lambda p: p[:2]))
        everything.remove(a)
        touched.add(b.id)
        names = a.names if draw(st.booleans()) else [a.name]
        b.previous = list(dict.fromkeys([*b.previous, *(x for x in names if x not in b.names)]))
        return False
    else:  # reuse
        name = draw(st.sampled_from(reusable))
        node = model.new_node(key, draw(st.sampled_from(LEAF_TYPES)), name)
        everything.append(node)
        touched.add(node.id)
        return False
    return True


@given(st.data())
def test_accepted_versions_lose_and_misfile_nothing(data_: st.DataObject) -> None:
    draw = data_.draw
    model = Model([], {}, {})
    model.fields = [
        model.new_node(0, t)
        for t in draw(st.lists(st.sampled_from([*LEAF_TYPES, "repeat"]), min_size=1, max_size=4))
    ]
    published: list[FormDef] = [parse_definition(definition(model.fields))]
    snapshots = [copy.deepcopy(model.fields)]
    for _ in range(draw(st.integers(1, 6))):
        candidate = copy.deepcopy(model)
        touched: set[int] = set()
        changes = [change(draw, candidate, model, touched) for _ in range(draw(st.integers(1, 3)))]
        keeps = all(changes)
        try:
            new = parse_definition(definition(candidate.fields))
            errors = check_evolution(published, new)
        except DefinitionError as exc:
            errors = exc.errors
        if keeps:  # (b)
            assert errors == [], (definition(candidate.fields), errors)
        if errors:
            continue
        model = candidate
        published.append(new)
        snapshots.append(copy.deepcopy(model.fields))
    # (a): under the names each field has in the newest version that has it
    last_name: dict[int, str] = {}
    last_type: dict[int, str] = {}
    for snapshot in snapshots:
        for _, nodes in levels(snapshot):
            last_name.update((n.id, n.name) for n in nodes)
            last_type.update((n.id, n.type) for n in nodes)
    renames = rename_map(published[-1], published[:-1])
    for snapshot in snapshots[:-1]:
        assert renamed(data(snapshot), renames) == data(snapshot, last_name)
        for _, nodes in levels(snapshot):
            assert all(n.type == last_type[n.id] for n in nodes)


def respelled(value: Any, draw: st.DrawFn) -> Any:
    """`value` with some whole numbers written as floats and some empty lists added."""
    if isinstance(value, list):
        return [respelled(v, draw) for v in value]
    if not isinstance(value, dict):
        return value
    out = {k: respelled(v, draw) for k, v in value.items()}
    if "type" in out:  # a field
        for bound in ("min", "max"):
            if type(out.get(bound)) is int and draw(st.booleans()):
                out[bound] = float(out[bound])
        for key in ("previous_names", "choices", "fields"):
            if key not in out and draw(st.booleans()):
                out[key] = []
    return out


@given(definitions(), st.data())
def test_spelling_never_changes_the_hash(source: dict[str, Any], data_: st.DataObject) -> None:
    """(c) what means the same hashes the same: re-publishing it is a no-op."""
    other = respelled(source, data_.draw)
    try:
        expected = canonical(parse_definition(source))
    except DefinitionError:
        return  # the strategy makes a few definitions the server refuses
    assert canonical(parse_definition(json.loads(json.dumps(other)))) == expected
