"""Read a form definition's source: YAML or JSON text to plain data, refusing a key given twice
(YAML and JSON would keep the last), and plain data bounded in nesting and size, with text for
keys, before anything reads it further; each refusal a DefinitionError naming its path.
"""

from __future__ import annotations

import collections
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


class _DuplicateKeys(ValueError):
    """Keys given twice, each (path of the object, key, line or None), and the data as YAML
    or JSON reads it (the last of each kept), to be checked for its other problems."""

    def __init__(self, found: list[tuple[str, Any, int | None]], data: Any = None) -> None:
        super().__init__(f"{len(found)} key(s) given twice")
        self.found = found
        self.data = data

    def errors(self) -> list[FieldError]:
        out = []
        for where, key, line in self.found:
            vi_at, en_at = (f" (dòng {line})", f" (line {line})") if line else ("", "")
            path = f"{where}.{key}".lstrip(".") if isinstance(key, str) else where
            out.append(
                FieldError(
                    path,
                    "duplicate_key",
                    f"Khóa {key!r} được viết hai lần trong một đối tượng{vi_at}: chỉ giữ một /"
                    f" the key {key!r} appears twice in one object{en_at}: keep one",
                )
            )
        return out


_MERGE = "tag:yaml.org,2002:merge"


class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """libyaml's safe loader when PyYAML was built with it (ten times faster than the pure
    one), refusing a key given twice in one mapping: YAML would keep the last silently.
    Merge keys (`<<: *anchor`) work as in `yaml.safe_load`: the keys written next to them
    win over the merged ones, and only the written keys must be distinct."""

    def construct_document(self, node: yaml.Node) -> Any:
        # Every mapping is checked before any is built: building flattens merge keys into
        # the mappings (and an anchored one may be merged before it is built itself). Every
        # key given twice is said, at its path, with the rest of the definition's problems.
        seen: set[int] = set()
        # in the order written: a mapping an alias repeats is named where it stands first
        stack: collections.deque[tuple[yaml.Node, str]] = collections.deque([(node, "")])
        found: list[tuple[str, Any, int | None]] = []
        while stack:
            current, where = stack.popleft()
            if id(current) in seen:
                continue  # an alias: the same node again
            seen.add(id(current))
            if isinstance(current, yaml.MappingNode):
                keys = set()
                for key_node, value_node in current.value:
                    if key_node.tag == _MERGE:  # two in one mapping: the first silently lost
                        if "<<" in keys:  # (`<<: [*a, *b]` merges both)
                            found.append((where, "<<", key_node.start_mark.line + 1))
                        keys.add("<<")
                    if key_node.tag == _MERGE or not isinstance(key_node, yaml.ScalarNode):
                        stack.append((value_node, where))
                        continue
                    key = self.construct_object(key_node)
                    stack.append((value_node, f"{where}.{key}" if isinstance(key, str) else where))
                    if key in keys:
                        found.append((where, key, key_node.start_mark.line + 1))
                    keys.add(key)
            elif isinstance(current, yaml.SequenceNode):
                stack += [(item, f"{where}[{i}]") for i, item in enumerate(current.value)]
        data = super().construct_document(node)
        if found:
            raise _DuplicateKeys(sorted(found, key=lambda f: f[2] or 0), data)
        return data


# YAML 1.1 reads `1e6` and `1.5e3` (an exponent with no sign) as text, YAML 1.2 and JSON as
# numbers: `max: 1e6` is 10**6.
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9_]+)[eE][-+]?[0-9]+$"),
    list("-+0123456789."),
)
YAML_LOADER = _Loader


class _Twice(dict[str, Any]):
    """A JSON object with keys given twice (`twice`): found, with their paths, once the whole
    document is read (json's hook sees an object before knowing where it is)."""

    twice: list[str]


def _json_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    twice = []
    for key, value in pairs:
        if key in out:
            twice.append(key)
        out[key] = value
    if twice:
        marked = _Twice(out)
        marked.twice = twice
        return marked
    return out


def _twice_in(data: Any) -> Any:
    """Where the objects `_json_object` marked are in `data`, and their keys given twice; the
    marks taken off (plain dicts again)."""
    found: list[tuple[str, Any, int | None]] = []

    def walk(value: Any, where: str) -> Any:
        if isinstance(value, dict):
            if isinstance(value, _Twice):
                found.extend((where, key, None) for key in value.twice)
            return {k: walk(v, f"{where}.{k}") for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v, f"{where}[{i}]") for i, v in enumerate(value)]
        return value

    data = walk(data, "")
    if found:
        raise _DuplicateKeys(found, data)
    return data


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
            shape = shape_error(data)  # before walking it, however deep it nests
            if shape is not None:
                raise DefinitionError([shape])
            data = _twice_in(data)
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
    except _DuplicateKeys as exc:
        raise _with_the_rest(exc) from exc
    except UnicodeDecodeError as exc:
        raise DefinitionError([not_utf8(exc)]) from exc
    except (ValueError, TypeError, RecursionError, yaml.YAMLError) as exc:
        raise DefinitionError([syntax_error(exc, text if isinstance(text, str) else "")]) from exc
    return data


def _char_at(text: str, line: int, column: int) -> str:
    lines = text.splitlines()
    return lines[line][column : column + 1] if line < len(lines) else ""


def _with_the_rest(twice: _DuplicateKeys) -> DefinitionError:
    """The keys given twice, and the definition's other problems with them, as its data reads
    with the last of each."""
    from server.forms import parse_definition  # forms imports this module

    errors = twice.errors()
    other = shape_error(twice.data) or key_error(twice.data)
    if other is not None:
        errors.append(other)
    else:
        try:
            parse_definition(twice.data)
        except DefinitionError as more:
            errors += more.errors
    return DefinitionError(errors)


def refuse_msgpack_twice(body: bytes, data: Any) -> None:
    """DefinitionError for a MessagePack definition (`body`, read as `data`) with a key given
    twice in a map: msgspec keeps the last silently, and it was published so."""
    found = msgpack_twice(body)
    if found:
        raise _with_the_rest(_DuplicateKeys(found, data))


def not_utf8(exc: UnicodeDecodeError) -> FieldError:
    """A definition saved in another encoding than UTF-8 (Windows Notepad's "Unicode" is
    UTF-16; an older editor's ANSI, cp1258)."""
    utf16 = exc.object[:2] in (b"\xff\xfe", b"\xfe\xff")
    vi = (
        "Tệp được lưu dạng UTF-16 (“Unicode” của Notepad)"
        if utf16
        else "Tệp không phải văn bản UTF-8"
    )
    en = "the file is UTF-16 text (Notepad's “Unicode”)" if utf16 else "the file is not UTF-8 text"
    return FieldError(
        "",
        "syntax",
        f"{vi} (byte {exc.start}): hãy lưu lại với mã UTF-8 / {en} (byte {exc.start}): save it"
        f" as UTF-8",
    )


# PyYAML's problems an admin meets most, in Vietnamese, with what to do
_YAML_PROBLEMS = (
    ("found character '\\t'", "có ký tự tab: hãy thụt lề bằng dấu cách", "indent with spaces"),
    ("tab character", "có ký tự tab: hãy thụt lề bằng dấu cách", "indent with spaces"),
    (
        "unknown escape character",
        "dấu \\ trong chuỗi đặt giữa ngoặc kép: hãy dùng ngoặc đơn, vd. pattern: '^\\d+$'",
        "a \\ inside double quotes: use single quotes, e.g. pattern: '^\\d+$'",
    ),
    (
        "found unexpected end of stream",
        "thiếu dấu ngoặc kép hoặc ngoặc đóng",
        "a closing quote or bracket is missing",
    ),
    ("while scanning a quoted scalar", "thiếu dấu ngoặc kép đóng", "a closing quote is missing"),
    (
        "mapping values are not allowed",
        "dấu hai chấm không đúng chỗ, hoặc thụt lề sai",
        "a colon out of place, or wrong indentation",
    ),
    # json's
    ("Expecting ',' delimiter", "thiếu dấu phẩy", "a comma is missing"),
    (
        "Expecting property name enclosed in double quotes",
        "tên khóa phải đặt trong ngoặc kép, hoặc thừa dấu phẩy trước }",
        "a key in double quotes, or no comma before }",
    ),
    ("Expecting value", "thiếu giá trị, hoặc thừa dấu phẩy", "a value is missing, or a comma"),
    ("Unterminated string", "thiếu dấu ngoặc kép đóng", "a closing quote is missing"),
    ("Extra data", "thừa dữ liệu sau đối tượng chính", "more after the definition's object"),
    ("Invalid control character", "có ký tự điều khiển trong chuỗi", "a control character"),
    ("expected ',' or '}'", "thiếu dấu phẩy hoặc dấu } đóng", "a comma or a } is missing"),
    ("expected ',' or ']'", "thiếu dấu phẩy hoặc dấu ] đóng", "a comma or a ] is missing"),
    (
        "did not find expected",
        "thụt lề sai, hoặc thiếu dấu ngoặc đóng",
        "wrong indentation, or a closing bracket is missing",
    ),
)


def syntax_error(exc: BaseException, text: str = "") -> FieldError:
    """YAML or JSON that does not read, in both languages, with the line and column: the
    Vietnamese said only "Sai cú pháp" (a syntax error), the rest in PyYAML's English."""
    # one line: PyYAML's message spans several, and names "<unicode string>" for the file
    said = " ".join(str(exc).replace('in "<unicode string>", ', "").split())
    mark = getattr(exc, "problem_mark", None)
    if mark is not None:
        where = f" ở dòng {mark.line + 1}, cột {mark.column + 1}"
    elif isinstance(exc, json.JSONDecodeError):
        where = f" ở dòng {exc.lineno}, cột {exc.colno}"
    else:
        where = ""
    hint = next(((vi, en) for found, vi, en in _YAML_PROBLEMS if found in said), None)
    if mark is not None and _char_at(text, mark.line, mark.column) == "\t":  # libyaml names none
        hint = _YAML_PROBLEMS[0][1:]
    vi = f"Sai cú pháp YAML/JSON{where}" + (f": {hint[0]}" if hint else "")
    en = "not valid YAML or JSON" + (f" ({hint[1]})" if hint else "")
    return FieldError("", "syntax", f"{vi} / {en}: {said}")


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


# MessagePack's headers: first byte -> bytes of the value that follows (fixed sizes), or the
# width of its length and the bytes before its data (str, bin, ext)
_MSGPACK_FIXED = {
    0xC0: 0, 0xC2: 0, 0xC3: 0, 0xCA: 4, 0xCB: 8, 0xCC: 1, 0xCD: 2, 0xCE: 4, 0xCF: 8,
    0xD0: 1, 0xD1: 2, 0xD2: 4, 0xD3: 8, 0xD4: 2, 0xD5: 3, 0xD6: 5, 0xD7: 9, 0xD8: 17,
}  # fmt: skip
_MSGPACK_SIZED = {
    0xC4: (1, 0), 0xC5: (2, 0), 0xC6: (4, 0), 0xC7: (1, 1), 0xC8: (2, 1), 0xC9: (4, 1),
    0xD9: (1, 0), 0xDA: (2, 0), 0xDB: (4, 0),
}  # fmt: skip
_MSGPACK_CONTAINERS = {0xDC: (2, False), 0xDD: (4, False), 0xDE: (2, True), 0xDF: (4, True)}


def msgpack_twice(body: bytes) -> list[tuple[str, Any, int | None]]:
    """The keys given twice in the maps of `body`, a MessagePack document msgspec has read
    whole (it keeps the last of each, silently): each (path of the map, key, None). Read
    without recursion, a header at a time."""
    found: list[tuple[str, Any, int | None]] = []
    # each map or array open: [its path, items left (a map's keys and values), a map?,
    # the keys seen, the key of the value next, the index of the item next]
    stack: list[list[Any]] = []
    at = 0
    while True:
        frame = stack[-1] if stack else None
        is_key = frame is not None and frame[2] and frame[1] % 2 == 0
        if frame is None:
            here = ""
        elif is_key or not frame[2]:
            here = frame[0] if is_key else f"{frame[0]}[{frame[5]}]"
        else:
            here = f"{frame[0]}.{frame[4]}" if isinstance(frame[4], str) else frame[0]
        b = body[at]
        at += 1
        value: Any = b  # a key's value, where it matters (text, whole numbers)
        items, is_map = 0, False
        if 0x80 <= b <= 0x9F:
            items, is_map = b & 0x0F, b <= 0x8F
        elif b in _MSGPACK_CONTAINERS:
            width, is_map = _MSGPACK_CONTAINERS[b]
            items = int.from_bytes(body[at : at + width])
            at += width
        elif 0xA0 <= b <= 0xBF:
            value = body[at : at + (b & 0x1F)].decode("utf-8", "replace")
            at += b & 0x1F
        elif b in _MSGPACK_FIXED:
            value = ("header", b, body[at : at + _MSGPACK_FIXED[b]])
            at += _MSGPACK_FIXED[b]
        elif b in _MSGPACK_SIZED:
            width, extra = _MSGPACK_SIZED[b]
            start = at + width + extra
            at = start + int.from_bytes(body[at : at + width])
            text = body[start:at]
            value = text.decode("utf-8", "replace") if b >= 0xD9 else ("header", b, text)
        if items:  # its items come next
            stack.append([here, items * (2 if is_map else 1), is_map, set(), None, 0])
            continue
        # a whole value: counted off the map or array it is in, and those it ends
        while stack:
            frame = stack[-1]
            if frame[2] and frame[1] % 2 == 0:  # a key
                if value in frame[3]:
                    found.append((frame[0], value, None))
                frame[3].add(value)
                frame[4] = value
            elif not frame[2]:
                frame[5] += 1
            frame[1] -= 1
            value = ("container",)
            if frame[1]:
                break
            stack.pop()
        if not stack:
            return found
