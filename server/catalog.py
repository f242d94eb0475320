"""The published forms: publish a definition as a new version, and keep every version's
definition, compiled validator and rename map in memory for the hot path.

The database is the truth; the in-memory catalogue is reloaded from it whenever its
`generation` (the number of published versions) moves, so a publish from the CLI while the
server runs is seen by the server too.
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import msgspec

from server import derive, forms
from server.errors import damaged
from server.evolution import check_evolution, rename_map, with_retired
from server.form_source import read_file
from server.forms import DefinitionError, Field, FormDef, parse_definition, read_source
from server.item import now_iso
from server.protocol import FormSummary, PublishResult
from server.store import Store
from server.store_schema import DERIVE_RULES
from server.validate import Validator, compile_form


@dataclass(slots=True)
class FormVersions:
    """Every version of one form; the last is the latest."""

    defs: list[FormDef] = field(default_factory=list)
    shas: list[str] = field(default_factory=list)
    docs: list[bytes] = field(default_factory=list)  # the served JSON of each version
    # each version as its data is checked: with the fields and choices removed since
    # (evolution.with_retired), which its `data` and `resolves` may name
    accepted: list[FormDef] = field(default_factory=list)
    validators: list[Validator] = field(default_factory=list)
    renames: dict[str, str] = field(default_factory=dict)  # old name -> latest name
    # each version's own renames (earlier names -> its names): fixed once it is published
    maps: list[dict[str, str]] = field(default_factory=list)
    # the version that last renamed a field: records derived before it hold older names
    names_since: int = 1

    # each select_multiple's choices in the order its values are kept (derive.kept)
    orders: dict[str, dict[str, int]] = field(default_factory=dict)

    @property
    def latest(self) -> int:
        return len(self.defs)

    @property
    def layout(self) -> tuple[dict[str, str], int, dict[str, dict[str, int]]]:
        """What derive needs of the form (derive.Layout)."""
        return self.renames, self.latest, self.orders


def _orders(fields: list[Field], prefix: str = "") -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for f in fields:
        if f.type == "select_multiple":
            out[prefix + f.name] = {c.value: i for i, c in enumerate(f.choices or [])}
        elif f.type == "repeat":
            out.update(_orders(f.fields or [], f"{prefix}{f.name}."))
    return out


log = logging.getLogger("coso")
RETRY_SECONDS = 30  # between tries to derive anew what a failure left (the disk full)
REDERIVE_CHUNK = 500  # records derived anew in one transaction after a renaming publish


def _renames(versions: list[FormDef]) -> dict[str, str]:
    """Old name -> the name its data is kept under after the last of `versions`."""
    return rename_map(versions[-1], versions[:-1])


def _doc(form: FormDef, version: int, sha: str, renames: dict[str, str]) -> bytes:
    """A version as served: its definition, `version`, `sha256`, and `renames`, the names of
    earlier versions' data -> the names this version keeps it under (evolution.rename_map:
    chains followed, `group.old` inside repeat groups), so that a phone holding data of an
    older version reads and edits it under this one's names. All fixed once published."""
    body = msgspec.to_builtins(form)
    body.update(version=version, sha256=sha, renames=renames)
    return msgspec.json.encode(body)


class Catalog:
    def __init__(self, store: Store) -> None:
        self.store = store
        self._lock = threading.Lock()
        self._loading = threading.Lock()
        self._forms: dict[str, FormVersions] = {}
        self._count = -1
        self.stopping = threading.Event()  # set when the server stops: no new work begins
        self.catching_up = False  # the server's catalogue: it derives what publishes left
        self._catching: threading.Thread | None = None
        self._again = False
        self._failed_at: float | None = None  # when deriving anew last failed (disk full)
        self.reload()

    def reload(self) -> None:
        """Load the published versions again if their number moved (cheap when it did not).
        Deriving anew that failed (the disk full) is tried again from here, at most every
        RETRY_SECONDS: each push and pull reloads."""
        failed = self._failed_at
        if failed is not None and self.catching_up and time.monotonic() - failed > RETRY_SECONDS:
            self._failed_at = None
            self.catch_up()
        if self.store.form_count() == self._count:
            return
        with self._loading:  # one thread loads; the others then find it done
            if self.store.form_count() != self._count:
                self._load()

    def _load(self) -> None:
        """Load the published versions, reusing what is already loaded of them: a form with
        no new version as it is, and a form's earlier versions' renames and served JSON
        (fixed once published). Only a form with a new version is checked and compiled anew,
        so a publish costs in proportion to that form, not to every version of every form
        (a catalogue of 400 versions took 5 s a reload, and each publish reloaded)."""
        rows = self.store.form_versions()
        found: dict[str, tuple[list[str], list[str]]] = {}
        for form_id, _version, sha, definition in rows:
            defs, shas = found.setdefault(form_id, ([], []))
            defs.append(definition)
            shas.append(sha)
        before = self._forms
        loaded: dict[str, FormVersions] = {}
        for form_id, (definitions, shas) in found.items():
            old = before.get(form_id)
            if old is not None and old.shas == shas:
                loaded[form_id] = old
                continue
            # the versions already loaded, when they are still the first ones (a restore
            # may bring other versions under the same numbers)
            kept = len(old.shas) if old is not None and shas[: len(old.shas)] == old.shas else 0
            fv = loaded[form_id] = FormVersions()
            fv.shas = shas
            fv.defs = [*(old.defs[:kept] if old else []), *(
                msgspec.json.decode(d, type=FormDef) for d in definitions[kept:]
            )]  # fmt: skip
            # each version's renames (earlier names -> its names), computed once: served with
            # the version, the latest's merged under, and where they changed last
            fv.maps = [*(old.maps[:kept] if old else []), *(
                rename_map(fv.defs[n - 1], fv.defs[: n - 1])
                for n in range(kept + 1, len(fv.defs) + 1)
            )]  # fmt: skip
            fv.docs = [*(old.docs[:kept] if old else []), *(
                _doc(fv.defs[n - 1], n, shas[n - 1], fv.maps[n - 1])
                for n in range(kept + 1, len(fv.defs) + 1)
            )]  # fmt: skip
            fv.renames = fv.maps[-1]
            fv.names_since = max(
                (n for n in range(2, fv.latest + 1) if fv.maps[n - 2] != fv.maps[n - 1]),
                default=1,
            )
            fv.accepted = with_retired(fv.defs)
            fv.orders = _orders(fv.accepted[-1].fields)
            fv.validators = [compile_form(form, n) for n, form in enumerate(fv.accepted, 1)]
        with self._lock:
            self._forms, self._count = loaded, len(rows)
        renamed = any(
            fv.names_since > (before[f].names_since if f in before else 1)
            for f, fv in loaded.items()
        )
        if renamed and self.catching_up:  # a renaming version from elsewhere (the CLI)
            self.catch_up()

    def catch_up(self) -> None:
        """Derive anew, on a thread of its own beside the requests, the records still under
        older names: at the server's start, and when a renaming version appears while it runs
        (`coso forms publish` derives them itself, but may be stopped half-way)."""
        with self._lock:
            if self._catching is not None and self._catching.is_alive():
                self._again = True  # the running one looks once more when it is done
                return
            self._catching = threading.Thread(target=self._catch_up, daemon=True)
            self._catching.start()

    def _catch_up(self) -> None:
        while True:
            try:
                done = self.finish_rederive()
            except Exception as exc:  # the disk full, the file gone: said, and tried again
                self._failed(exc)
                with self._lock:
                    self._catching = None
                return
            if done:
                log.info(
                    "%d hồ sơ được tổng hợp lại theo tên trường và quy tắc hiện hành"
                    " / %d records derived anew under the latest field names and rules",
                    done,
                    done,
                )
            with self._lock:
                if not self._again or self.stopping.is_set():
                    self._catching = None
                    return
                self._again = False

    def _failed(self, exc: Exception) -> None:
        """One line for the operator (not a thread's traceback), and a retry to come; a
        damaged database said as such, and to /healthz, as a request that meets it does."""
        self._failed_at = time.monotonic()
        if damaged(exc):
            self.store.found_damaged(exc, "records derived anew")
            return
        log.warning(
            "RECORDS NOT YET DERIVED UNDER THE LATEST NAMES / CHƯA CẬP NHẬT XONG HỒ SƠ THEO TÊN"
            " TRƯỜNG MỚI: %s; tried again in %d s, and at the next start",
            exc,
            RETRY_SECONDS,
        )

    def stop(self) -> None:
        """No new chunk of deriving begins; waits for the one under way."""
        self.stopping.set()
        thread = self._catching
        if thread is not None:
            thread.join()

    def get(self, form_id: str) -> FormVersions | None:
        return self._forms.get(form_id)

    def manifest(self) -> list[FormSummary]:
        return [
            FormSummary(
                form_id=form_id,
                version=fv.latest,
                title=fv.defs[-1].title,
                sha256=fv.shas[-1],
                sync_to_devices=fv.defs[-1].sync_to_devices,
            )
            for form_id, fv in sorted(self._forms.items())
        ]

    def etag(self) -> str:
        """Changes whenever any form gets a new version."""
        latest = ",".join(f"{fid}@{fv.shas[-1]}" for fid, fv in sorted(self._forms.items()))
        return hashlib.sha256(latest.encode()).hexdigest()[:32]

    def device_forms(self) -> list[str]:
        return [fid for fid, fv in self._forms.items() if fv.defs[-1].sync_to_devices]

    def publish(
        self, form: FormDef, by_user: int | None, by_name: str | None
    ) -> tuple[PublishResult, bool]:
        """Publish `form` as the next version: (result, created). Identical to a published
        version: a no-op that returns that version."""
        sha = forms.sha256(form)
        now = now_iso()
        with self.store.write() as w:
            latest = w.latest_version(form.form_id)
            # Identical to any published version: a no-op that returns that version, so that
            # publishing a folder of v1..vN files again changes nothing.
            same = w.version_with_sha(form.form_id, sha)
            if same is not None:
                return PublishResult(form.form_id, same, sha), False
            earlier = [
                msgspec.json.decode(d, type=FormDef) for d in w.form_definitions(form.form_id)
            ]
            # a version an older coso published keeps the hash of its canonical encoding then
            # (before empty lists were left out and 10.0 written 10): the same definition
            # all the same, never a new version phones would download for good
            for number in range(len(earlier), 0, -1):
                if forms.sha256(earlier[number - 1]) == sha:
                    return PublishResult(
                        form.form_id, number, w.form_sha(form.form_id, number)
                    ), False
            errors = check_evolution(earlier, form)
            if errors:
                raise DefinitionError(errors)
            version = (latest[0] if latest else 0) + 1
            w.insert_form(form.form_id, version, sha, forms.canonical(form).decode(), now, by_name)
            w.audit(
                now,
                by_user,
                None,
                "form.publish",
                f"{form.form_id}@{version}",
                msgspec.json.encode({"sha256": sha}).decode(),
            )
            renamed = bool(earlier) and _renames(earlier) != _renames([*earlier, form])
            if form.sync_to_devices and not (earlier and earlier[-1].sync_to_devices):
                # now a follow-up form: phones pull its records from their cursors on, so
                # each record already stored is a change they have not seen yet
                w.resequence(form.form_id)
        self.reload()
        if renamed:  # records hold data under the latest names: derive them anew
            # The version is published whatever happens now: a failure here (the disk full)
            # was answered 503 "nothing was stored", and the rest was never derived. The
            # server tries again (reload), `coso serve` at its start.
            try:
                self.rederive(form.form_id, version)
            except Exception as exc:  # as above
                self._failed(exc)
        return PublishResult(form.form_id, version, sha), True

    def rederive(self, form_id: str, below: int) -> int:
        """Derive anew, under the latest names, the records of `form_id` last derived before
        version `below`; how many. A few hundred records a transaction, so pushes and pulls go
        on meanwhile (one transaction for them all held every other writer for a second per
        5,000 records: past 30 s, a 503). A record a push touches meanwhile is derived from
        its submissions by that push (derive takes no shortcut from an older version's
        state) and skipped here; those a crash left behind are found at the next start."""
        done, after = 0, ""
        while not self.stopping.is_set():
            fv = self.get(form_id)
            if fv is None:
                return done
            layout = {form_id: fv.layout}
            # found with a read, derived in a write: one a push derived meanwhile comes out
            # the same, and is not written again
            ids = self.store.records_derived_before(form_id, below, after, REDERIVE_CHUNK)
            if not ids:
                return done
            with self.store.write() as w:
                derive.rebuild(w, ids, layout, now_iso())
            done, after = done + len(ids), ids[-1]
        return done

    def finish_rederive(self) -> int:
        """Derive anew the records an older coso derived under other rules, and those still
        under older names (a publish stopped before it had derived them all); how many."""
        done = self.rederive_all() if self.store.derive_rules() < DERIVE_RULES else 0
        return done + sum(
            self.rederive(form_id, fv.names_since)
            for form_id, fv in list(self._forms.items())
            if fv.names_since > 1
        )

    def rederive_all(self) -> int:
        """Derive every record anew under this coso's rules (store_schema.DERIVE_RULES), a
        chunk a transaction beside the requests, then record that it is done; how many were
        looked at. A record that comes out the same is not written (nor pulled again)."""
        done, after = 0, ""
        while not self.stopping.is_set():
            ids = self.store.record_ids_after(after, REDERIVE_CHUNK)
            if not ids:
                with self.store.write() as w:
                    w.set_derive_rules(DERIVE_RULES)
                return done
            layout = {form_id: fv.layout for form_id, fv in list(self._forms.items())}
            with self.store.write() as w:
                derive.rebuild(w, ids, layout, now_iso())
            done, after = done + len(ids), ids[-1]
        return done


def _version_key(path: Path) -> tuple[str, int, str]:
    match = re.match(r"(.+?)\.v(\d+)$", path.stem)
    return (match.group(1), int(match.group(2)), path.name) if match else (path.stem, 0, path.name)


def schema_files(directory: Path) -> list[Path]:
    """Form files in publishing order: by form, then `.vN` number (v1 before v2 before v10)."""
    files = [p for p in directory.iterdir() if p.suffix in (".yaml", ".yml", ".json")]
    return sorted(files, key=_version_key)


def publish_files(catalog: Catalog, files: list[Path]) -> list[tuple[Path, PublishResult, bool]]:
    """Publish each file in order; DefinitionError (with `path` set to the file) stops at the
    first file that cannot be published."""
    done = []
    for path in sorted(files, key=_version_key):
        try:
            form = parse_definition(read_source(read_file(path), path.name))
            result, created = catalog.publish(form, None, "cli")
        except DefinitionError as exc:
            exc.file = path  # type: ignore[attr-defined]
            raise
        done.append((path, result, created))
    return done


def renames_now(catalog: Catalog, form_id: str) -> dict[str, str]:
    """The form's renames as its latest version has them now (earlier names -> latest): for an
    export that started before a version was published."""
    catalog.reload()
    fv = catalog.get(form_id)
    return fv.renames if fv is not None else {}
