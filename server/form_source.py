"""Read a form definition's source: YAML or JSON text to plain data, refusing a key given twice
(YAML and JSON would keep the last), and plain data bounded in nesting and size, with text for
keys, before anything reads it further; each refusal a DefinitionError naming its path.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import msgspec
import yaml

from server.protocol import LONE_SURROGATE, MAX_FORM_BYTES, FieldError, lone_surrogate_path

MAX_REPEAT_DEPTH = 8  # repeat groups inside one another
# Any definition is refused past these before it is read any further, so that nothing below
# recurses without end: arrays and objects inside one another (8 levels of repeat groups
# take about 20), and values counted as YAML aliases expand them (a 2 MiB body holds 1M).
MAX_NESTING = 64
MAX_VALUES = 1_000_000


class DefinitionError(Exception):
    """A definition that cannot be published; `errors` lists every problem found."""

    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__("; ".join(f"{e.path}: {e.message}" for e in errors))
        self.errors = errors


class _DuplicateKey(ValueError):
    def __init__(self, key: Any, where: str = "") -> None:
        super().__init__(f"the key {key!r} appears twice in one object{where}")
        self.key = key


_MERGE = "tag:yaml.org,2002:merge"


class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """libyaml's safe loader when PyYAML was built with it (ten times faster than the pure
    one), refusing a key given twice in one mapping: YAML would keep the last silently.
    Merge keys (`<<: *anchor`) work as in `yaml.safe_load`: the keys written next to them
    win over the merged ones, and only the written keys must be distinct."""

    def construct_document(self, node: yaml.Node) -> Any:
        # Every mapping is checked before any is built: building flattens merge keys into
        # the mappings (and an anchored one may be merged before it is built itself).
        seen, stack = set(), [node]
        while stack:
            current = stack.pop()
            if id(current) in seen:
                continue  # an alias: the same node again
            seen.add(id(current))
            if isinstance(current, yaml.MappingNode):
                keys = set()
                for key_node, value_node in current.value:
                    stack += (key_node, value_node)
                    if key_node.tag == _MERGE or not isinstance(key_node, yaml.ScalarNode):
                        continue
                    key = self.construct_object(key_node)
                    if key in keys:
                        raise _DuplicateKey(key, f" (line {key_node.start_mark.line + 1})")
                    keys.add(key)
            elif isinstance(current, yaml.SequenceNode):
                stack += current.value
        return super().construct_document(node)


# YAML 1.1 reads `1e6` and `1.5e3` (an exponent with no sign) as text, YAML 1.2 and JSON as
# numbers: `max: 1e6` is 10**6.
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9_]+)[eE][-+]?[0-9]+$"),
    list("-+0123456789."),
)
YAML_LOADER = _Loader


def _json_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _DuplicateKey(key)
        out[key] = value
    return out


def read_file(path: Path) -> str:
    """A definition file's text, read no further than the API's body limit: a file past it
    (or a device that never ends, /dev/zero) is refused rather than read into memory.
    UnicodeDecodeError for one that is not UTF-8."""
    with path.open("rb") as f:
        raw = f.read(MAX_FORM_BYTES + 1)
    if len(raw) > MAX_FORM_BYTES:
        raise DefinitionError(
            [
                FieldError(
                    "",
                    "too_large",
                    f"tệp lớn hơn {MAX_FORM_BYTES >> 20} MiB / the file is larger than"
                    f" {MAX_FORM_BYTES >> 20} MiB",
                )
            ]
        )
    return raw.decode("utf-8")


def read_source(text: str | bytes, filename: str = "") -> Any:
    """YAML or JSON text to plain data (JSON is YAML, but JSON errors read better from json)."""
    try:
        if isinstance(text, bytes):
            text = text.decode("utf-8")
        # A byte order mark, as Windows editors save UTF-8: YAML skips it, json refuses it.
        text = text.removeprefix("\ufeff")
        if filename.endswith(".json") or text.lstrip().startswith("{"):
            data = json.loads(text, object_pairs_hook=_json_object)
        else:
            data = yaml.load(text, Loader=YAML_LOADER)  # noqa: S506 (a safe loader)
        shape = shape_error(data) or key_error(data)
        if shape is not None:
            raise DefinitionError([shape])
        # json.loads and YAML let a lone surrogate escape ("\ud800") through: not Unicode
        where = lone_surrogate_path(data)
        if where is not None:
            raise DefinitionError(
                [FieldError(where.removeprefix("."), "malformed", LONE_SURROGATE)]
            )
        msgspec.json.encode(data)
    except _DuplicateKey as exc:
        raise DefinitionError([FieldError("", "duplicate_key", str(exc))]) from exc
    except (ValueError, TypeError, RecursionError, yaml.YAMLError) as exc:
        # one line: PyYAML's message spans several, and names "<unicode string>" for the file
        said = " ".join(str(exc).replace('in "<unicode string>", ', "").split())
        raise DefinitionError(
            [FieldError("", "syntax", f"not valid YAML or JSON: {said}")]
        ) from exc
    return data


def shape_error(data: Any) -> FieldError | None:
    """Where `data` nests deeper than MAX_NESTING or holds more than MAX_VALUES values (a
    YAML alias counts its value again each time), found without recursion."""
    stack: list[tuple[Any, int, tuple[Any, ...]]] = [(data, 0, ())]
    count = 0
    while stack:
        value, depth, trail = stack.pop()
        count += 1
        if count > MAX_VALUES:
            return FieldError("", "too_large", f"a definition holds at most {MAX_VALUES} values")
        if isinstance(value, dict | list):
            if depth == MAX_NESTING:
                return _too_deep(trail)
            items = value.items() if isinstance(value, dict) else enumerate(value)
            stack.extend((v, depth + 1, (trail, k)) for k, v in items)
    return None


# What YAML makes of a scalar written without quotes, other than text (`no` is false).
YAML_TYPES = {
    "bool": (
        "đúng/sai (yes, no, on, off, true, false)",
        "true/false (yes, no, on, off, true, false)",
    ),
    "int": ("một số", "a number"),
    "float": ("một số", "a number"),
    "date": ("một ngày", "a date"),
    "datetime": ("một thời điểm", "a time"),
    "NoneType": ("rỗng (null, ~)", "null (null, ~)"),
}


def not_text(what: str) -> str:
    """The message for a scalar typed where text belongs: a number or true in JSON, or a YAML
    value written without quotes that YAML reads so (`value: no`, `name: on`)."""
    vi, en = YAML_TYPES[what]
    return (
        f"cần chữ, nhận được {vi} (trong YAML, giá trị viết không có ngoặc kép được đọc là "
        f"{vi}: hãy đặt nó trong ngoặc kép) / expected text, got {what} (YAML reads a value "
        f"written without quotes as {en}: put it in quotes)"
    )


def key_error(data: Any) -> FieldError | None:
    """Where `data` has a key that is not text (YAML reads `yes:`, `1:` or `2025-01-01:` as
    true, a number, a date), found without recursion (after `shape_error` bounded it)."""
    stack: list[tuple[Any, str]] = [(data, "")]
    while stack:
        value, path = stack.pop()
        if isinstance(value, dict):
            for key, v in value.items():
                if not isinstance(key, str):
                    kind = type(key).__name__
                    what = kind if kind in YAML_TYPES else "a value that is not text"
                    vi, en = YAML_TYPES.get(kind, ("một giá trị không phải chữ", what))
                    message = (
                        f"khóa {key!r} không phải chữ: YAML đọc khóa viết không có ngoặc kép này "
                        f"là {vi}; hãy đặt nó trong ngoặc kép / the key {key!r} is not text: "
                        f"YAML reads this key written without quotes as {en}; put it in quotes"
                    )
                    return FieldError(path or "(top)", "type", message)
                stack.append((v, f"{path}.{key}".lstrip(".")))
        elif isinstance(value, list):
            stack.extend((v, f"{path}[{i}]") for i, v in enumerate(value))
    return None


def _too_deep(trail: tuple[Any, ...]) -> FieldError:
    """The error for the value at `trail` (nested pairs of parent and key): repeat groups
    inside one another are refused at the first one too many, as `forms._convert_fields`
    does."""
    keys: list[Any] = []
    while trail:
        trail, key = trail
        keys.append(key)
    keys.reverse()
    groups = 0  # `fields[i]` steps from the top: a field, a field of a group in it, ...
    for name, index in zip(keys[::2], keys[1::2], strict=False):
        if name != "fields" or not isinstance(index, int):
            break
        groups += 1
    if groups > MAX_REPEAT_DEPTH + 1:  # inside the fields of a group one level too deep
        path = ".".join(f"fields[{i}]" for i in keys[1 : 2 * MAX_REPEAT_DEPTH + 2 : 2])
        message = f"repeat groups may be nested at most {MAX_REPEAT_DEPTH} deep"
        return FieldError(path, "too_deep", message)
    path = "".join(f"[{k}]" if isinstance(k, int) else f".{k}" for k in keys).lstrip(".")
    message = f"nested too deeply (over {MAX_NESTING} levels of objects and lists)"
    return FieldError(path, "too_deep", message)
