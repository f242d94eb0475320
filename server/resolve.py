"""A supervisor's resolution: a submission whose parents are the record's heads and that
`resolves` the fields given, so that their conflicts close (PROTOCOL.md, "Merge rules" 2-3).
Stored and merged as a pushed submission is (server/item.py `stored_row`, derive `rebuild`).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import msgspec

from server import areas
from server.derive import rebuild
from server.errors import Forbidden, Invalid, NotFound, Stale
from server.forms import Field, nfc
from server.item import UUID_RE, encode, now_iso, stored_row, uuid7
from server.merge import same_value
from server.protocol import FieldError, Record, ResolveRequest
from server.store import Store
from server.store_schema import User
from server.store_write import Writer

# what the checks say of a value they throw away rather than keep: one no stored value can
# have (those say what a later version tightened: max_length, pattern, min, max, choice)
THROWN_AWAY = frozenset(
    {
        "type",
        "format",
        "unknown_field",
        "malformed",
        "control_character",
        "range",
        "too_deep",
        "too_large",
    }
)

if TYPE_CHECKING:
    from server.catalog import Catalog, FormVersions

_decode = msgspec.json.decode


def _resolution_values(
    fv: FormVersions, record: Record, values: dict[str, Any]
) -> tuple[dict[str, Any], list[FieldError]]:
    """The values of a resolution, checked against the latest version; a field's older name
    is read as its latest, as older versions' data is (the supervisor may have seen the record
    before a publish renamed it); a field in conflict that a later version removed (its values
    are kept) is checked against the newest version that had it, so that its conflict can be
    settled too. Errors name the fields as they were sent."""
    latest = {f.name for f in fv.defs[-1].fields}
    sent: dict[str, str] = {}  # the name a value is kept under -> the name it was sent under
    named: dict[str, Any] = {}
    twice: list[FieldError] = []
    for key, value in values.items():
        name = key if key in latest or "." in key else fv.renames.get(key, key)
        if name in named:
            message = (
                f"{sent[name]!r} và {key!r} là một trường, {name!r}: chỉ gửi một lần /"
                f" {sent[name]!r} and {key!r} are one field, {name!r}: give it once"
            )
            twice.append(FieldError(f"values.{key}", "duplicate", message))
            continue
        sent[name], named[name] = key, value
    inner: list[FieldError] = []  # two names of one sub-field in one item
    # the path of each value renamed, as checked -> as sent (`values.cac_ben[0].tuoi_moi` ->
    # `values.ben[0].tuoi`), for the errors' paths to read back to what was sent
    where = {f"values.{name}": f"values.{key}" for name, key in sent.items() if name != key}
    for f in fv.defs[-1].fields:
        if f.name in named:
            named[f.name] = _items_latest(
                f,
                named[f.name],
                fv.renames,
                f"{f.name}.",
                (f"values.{f.name}", f"values.{sent[f.name]}"),
                inner,
                where,
            )
    conflicted = {c.field for c in record.conflicts}
    gone = {k: v for k, v in named.items() if k not in latest and k in conflicted}
    data, errors = fv.validators[-1](
        {k: v for k, v in named.items() if k not in gone}, creating=False, path="values"
    )
    for name, value in gone.items():
        for version in range(fv.latest - 1, 0, -1):  # the newest earlier version first
            old = next(
                (
                    f.name
                    for f in fv.defs[version - 1].fields
                    if fv.renames.get(f.name, f.name) == name
                ),
                None,
            )
            if old is not None:
                checked, problems = fv.validators[version - 1](
                    {old: value}, creating=False, path="values"
                )
                data[name] = checked.get(old)
                errors += [
                    FieldError(
                        e.path.replace(f"values.{old}", f"values.{name}", 1), e.code, e.message
                    )
                    for e in problems
                ]
                break
        else:  # no version has it (a conflict's name stale against the catalogue): never dropped
            message = f"no version of {fv.defs[-1].form_id} has a field {name!r}"
            errors.append(FieldError(f"values.{name}", "unknown_field", message))
    # A value the record holds already (its value, or one competing in its conflict) was
    # checked when it came: a version since may have tightened the field (a shorter
    # max_length, a pattern), and keeping a stored value must stay possible. A value the
    # checks threw away, in part or whole (null for a "3" sent to a number, a party's "1957"
    # year of birth, a key no version has), is not one the record holds, even when what is
    # left is: that stored null over the officers' values, or nothing, and said 200.
    thrown = {_field_of(e.path) for e in errors if e.code in THROWN_AWAY}
    held = {
        name
        for name, value in data.items()
        if name not in thrown
        and (
            same_value(value, record.data.get(name))
            or any(
                same_value(value, v.value)
                for c in record.conflicts
                if c.field == name
                for v in c.values
            )
        )
    }
    errors = [e for e in errors if _field_of(e.path) not in held]
    return data, [_as_sent(e, where) for e in errors] + inner + twice


def _items_latest(
    f: Field,
    value: Any,
    renames: Mapping[str, str],
    prefix: str,
    path: tuple[str, str],
    twice: list[FieldError],
    where: dict[str, str],
) -> Any:
    """A repeat group's value with its items' sub-fields sent under older names (a value the
    supervisor saw before a publish renamed them) under their latest names, at every depth,
    as a phone's data of an older version is read. `prefix`: the group's path in `renames`
    (`nhom.`, `nhom.con.`); `path`: its path as checked and as sent (`values.nhom[0].con`).
    A sub-field given under two of its names in one item is put in `twice`, and the later
    value is not read: neither is dropped without a word. Each renamed one's paths go in
    `where` (as checked -> as sent)."""
    if not f.fields or type(value) is not list:
        return value
    current = {sub.name: sub for sub in f.fields}
    items = []
    for i, item in enumerate(value):
        if type(item) is not dict:
            items.append(item)
            continue
        latest: dict[Any, Any] = {}
        sent: dict[Any, Any] = {}
        for key, v in item.items():
            # (a MessagePack key that is not text is left as it is, for the checks to refuse)
            name = key if key in current or type(key) is not str else renames.get(prefix + key, key)
            here = (f"{path[0]}[{i}].{name}", f"{path[1]}[{i}].{key}")
            if name in latest:
                message = (
                    f"{sent[name]!r} và {key!r} là một trường, {name!r}: chỉ gửi một lần /"
                    f" {sent[name]!r} and {key!r} are one field, {name!r}: give it once"
                )
                twice.append(FieldError(here[1], "duplicate", message))
                continue
            if name != key:
                where[here[0]] = here[1]
            sub = current.get(name)
            sent[name] = key
            latest[name] = (
                _items_latest(sub, v, renames, f"{prefix}{name}.", here, twice, where) if sub else v
            )
        items.append(latest)
    return items


def _field_of(path: str) -> str:
    """The field a `values.…` path is in: `b` of `values.b[0].x`."""
    return path.removeprefix("values.").partition(".")[0].partition("[")[0]


def _as_sent(error: FieldError, where: dict[str, str]) -> FieldError:
    """`error` with its path under the names the fields were sent under (`values.b[0].y`,
    though checked as `c[0].z`): the longest renamed path it is in, `where`'s."""
    path = error.path
    cuts = [len(path), *sorted((i for i, c in enumerate(path) if c in ".[" and i), reverse=True)]
    for cut in cuts:
        if path[:cut] in where:
            return FieldError(where[path[:cut]] + path[cut:], error.code, error.message)
    return error


def _stored_already(
    w: Writer, record_id: str, heads: list[str], data: dict[str, Any], note: str | None, user: User
) -> str | None:
    """The id of a resolution of `record_id` this user already made from `heads` with these
    values and note, if there is one."""
    parents, content = encode(heads).decode(), encode(data).decode()
    fields = encode(sorted(data)).decode()
    for row in w.submissions_of([record_id])[record_id]:
        if (
            row.device_id == f"resolve:{user.name}"
            and row.user_id == user.id
            and row.parents == parents
            and row.data == content
            and row.resolves == fields
            and row.note == note
        ):
            return row.id
    return None


def resolve(
    store: Store, catalog: Catalog, user: User, record_id: str, req: ResolveRequest
) -> tuple[str, Record]:
    """A supervisor's resolution: a submission with parents = heads that resolves the fields
    given."""
    note = nfc(req.note)
    with store.write() as w:
        doc = w.records_docs([record_id]).get(record_id)
        if doc is None:
            raise NotFound(f"no record {record_id}", code="unknown_record")
        record = _decode(doc, type=Record)
        if not areas.contains(user.area, record.area):
            raise Forbidden("this record is outside your area")
        bad = [
            FieldError(f"heads[{i}]", "format", "a head is a submission UUID")
            for i, h in enumerate(req.heads)
            if not UUID_RE.match(h)
        ]
        if bad:
            raise Invalid("heads are submission UUIDs", errors=bad)
        heads = sorted({h.lower() for h in req.heads})
        # Under the write lock no publish is half done: the versions the database holds now
        # are the ones this resolution is made and derived under (a `coso forms publish`
        # while the server runs reaches the catalogue no other way).
        catalog.reload()
        fv = catalog.get(record.form_id)
        if fv is None:
            raise NotFound(f"no form {record.form_id}")
        data, errors = _resolution_values(fv, record, req.values)
        if note is not None and "\x00" in note:  # as in any text of `data`
            errors.append(FieldError("note", "control_character", "text may not contain U+0000"))
        if not req.values:
            errors.append(FieldError("values", "required", "name at least one field to settle"))
        resolves = sorted(data)
        if heads != record.heads:
            # The same resolution sent again (its response lost on the way back): it was
            # stored, and the heads it named are no longer the record's because of it.
            done = None if errors else _stored_already(w, record_id, heads, data, note, user)
            if done is None:
                stale = (
                    f"the heads sent are not the record's (it changed since, or the list is "
                    f"wrong): reload it; the record's heads are now {', '.join(record.heads)}"
                )
                raise Stale(
                    stale, code="stale_heads", errors=[FieldError("heads", "stale_heads", stale)]
                )
            return done, record
        if errors:
            raise Invalid("the values do not fit the form", errors=errors)
        now = w.received_now(now_iso())
        sid = uuid7()
        row = stored_row(
            sid=sid,
            record_id=record_id,
            form_id=record.form_id,
            form_version=fv.latest,
            parents=heads,
            captured_at=now,
            captured_ts=time.time(),
            data=data,
            resolves=resolves,
            device_id=f"resolve:{user.name}",
            user=user,
            received_at=now,
            skewed=False,
            note=note,
        )
        w.insert_submissions([row])
        rebuild(w, [record_id], {record.form_id: fv.layout}, now, {record_id: [row]})
        w.audit(
            now,
            user.id,
            row.device_id,
            "record.resolve",
            record_id,
            encode({"submission_id": sid, "fields": resolves, "note": note}).decode(),
        )
        new = _decode(w.records_docs([record_id])[record_id], type=Record)
    return sid, new
