"""Shared by tests and benchmarks: realistic submissions (valid data for the real forms), and
a real `coso serve` subprocess with users made by the real `coso users add`."""

from __future__ import annotations

import contextlib
import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import httpx
from click.testing import CliRunner, Result

ROOT = Path(__file__).resolve().parents[1]

GIVEN = [
    "Nguyễn Văn",
    "Trần Thị",
    "Lê Văn",
    "Phạm Thị",
    "Hoàng Văn",
    "Vũ Thị",
    "Đặng Văn",
    "Bùi Thị",
]
NAMES = ["An", "Bình", "Cường", "Dung", "Hà", "Hùng", "Lan", "Minh", "Nga", "Phúc", "Quang", "Thảo"]
STREETS = ["Hàng Bạc", "Hàng Đào", "Lý Thái Tổ", "Đinh Tiên Hoàng", "Tràng Tiền", "Hàng Gai"]


def latest_version(form_id: str) -> int:
    """The N of the newest `schemas/FORM.vN.yaml`: the version a fresh server publishes last."""
    return max(
        int(f.name.split(".v")[1].split(".")[0]) for f in (ROOT / "schemas").glob(f"{form_id}.v*.*")
    )


def latest_schema(form_id: str) -> Any:
    """The definition in the newest `schemas/FORM.vN.yaml`, as plain data (a fresh copy): the
    base of a test's next version."""
    from server.form_source import read_source

    path = ROOT / "schemas" / f"{form_id}.v{latest_version(form_id)}.yaml"
    return read_source(path.read_text("utf-8"))


def uuid7(rng: random.Random | None = None) -> str:
    """A time-ordered UUIDv7, as the phones make them."""
    ms = time.time_ns() // 1_000_000
    rand = rng.getrandbits(74) if rng else int.from_bytes(os.urandom(10), "big") >> 6
    value = (ms << 80) | (0x7 << 76) | ((rand >> 62) << 64) | (0b10 << 62) | (rand & (2**62 - 1))
    h = f"{value:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def now(offset_minutes: int = 0) -> str:
    t = datetime.now(UTC).astimezone(datetime.now().astimezone().tzinfo) + timedelta(
        minutes=offset_minutes
    )
    return t.replace(microsecond=0).isoformat()


def person(rng: random.Random) -> str:
    return f"{rng.choice(GIVEN)} {rng.choice(NAMES)}"


# A commendation proposal (khen_thuong v1), as an officer fills it in: a form that, as
# shipped, does not sync to devices.
COMMENDATION = {
    "doi_tuong": "ca_nhan",
    "ten": "Nguyễn Văn An",
    "thanh_tich": "Tố giác tội phạm",
    "hinh_thuc_khen_thuong": "thu_khen",
    "don_vi_de_nghi": "Công an phường",
    "ngay_de_nghi": "2026-03-01",
}


def hoa_giai(rng: random.Random) -> dict[str, Any]:
    """A mediation case (hoa_giai, valid on v2 and later) as an officer fills it in."""
    return {
        "ngay_tiep_nhan": f"2026-{rng.randint(1, 11):02d}-{rng.randint(1, 28):02d}",
        "cac_ben": [
            {
                "ho_ten": person(rng),
                "nam_sinh": rng.randint(1950, 2005),
                "gioi_tinh": rng.choice(["nam", "nu"]),
                "dia_chi": f"Số {rng.randint(1, 200)} phố {rng.choice(STREETS)}, Hoàn Kiếm",
                "so_dien_thoai": f"09{rng.randint(10_000_000, 99_999_999)}",
                "vai_tro": role,
            }
            for role in ("ben_yeu_cau", "ben_con_lai")
        ],
        "loai_vu_viec": rng.choice(["dat_dai", "hon_nhan_gia_dinh", "vay_muon_tai_san"]),
        "noi_dung_vu_viec": "Tranh chấp lối đi chung giữa hai hộ liền kề; hai bên đề nghị tổ "
        "hòa giải xem xét và hỗ trợ thỏa thuận.",
        "trang_thai": rng.choice(["moi_tiep_nhan", "dang_hoa_giai"]),
        "hoa_giai_vien": f"{person(rng)}, {person(rng)}",
        "so_buoi_hoa_giai": rng.randint(0, 5),
    }


def submission(
    form_id: str,
    data: dict[str, Any],
    *,
    version: int,
    record_id: str | None = None,
    parents: list[str] | None = None,
    rng: random.Random | None = None,
    **extra: Any,
) -> dict[str, Any]:
    sid = uuid7(rng)
    item = {
        "id": sid,
        "form_id": form_id,
        "form_version": version,
        "record_id": record_id,
        "parents": parents or [],
        "captured_at": now(),
        "data": data,
    }
    item.update(extra)
    return item


def assert_problem(response: Any, status: int) -> dict[str, Any]:
    """The one error shape (RFC 9457): returns the body for further checks."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert isinstance(body["type"], str) and body["type"]
    assert isinstance(body["title"], str) and body["title"]
    assert body["status"] == status
    assert isinstance(body["detail"], str) and body["detail"]
    # people read title and detail: Vietnamese, then " / " and English
    assert " / " in body["title"] and " / " in body["detail"], body
    for error in body.get("errors") or []:
        assert set(error) == {"path", "code", "message"}, error
        assert all(isinstance(v, str) for v in error.values())
        assert error["code"] and error["message"]
        assert " / " in error["message"], error  # Vietnamese / English here too
    return body


# --- a real `coso` in a subprocess ------------------------------------------------------
# The end-to-end tests and the benchmarks run the installed command, not the app in-process,
# so that they see what an operator sees: the real startup, process, signals and database file.


def coso_command() -> list[str]:
    """The `coso` command of this interpreter: the script installed beside it, else the module
    (`python -m server.cli`, run from the repository), never another installation's `coso`."""
    script = Path(sys.executable).with_name("coso")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "server.cli"]


def run_coso(*args: str | Path, timeout: float | None = 120) -> str:
    """Run a `coso` command to its end from the repository root; its standard output. A
    failure raises with everything the command printed, so the test or benchmark says why."""
    done = subprocess.run(
        [*coso_command(), *map(str, args)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=timeout,
    )
    if done.returncode != 0:
        raise RuntimeError(
            f"coso {' '.join(map(str, args))} exited with {done.returncode}:\n"
            f"{done.stdout}{done.stderr}"
        )
    return done.stdout


def run_cli(*args: str | Path) -> Result:
    """A `coso` command run in-process (click's runner): its exit code and output."""
    from server.cli import main

    return CliRunner().invoke(main, [str(a) for a in args])


def cli_add_user(db: Path, name: str, role: str, area: str, *, url: str | None = None) -> str:
    """A user made with `coso users add` (as an operator makes one); its token, which the
    command prints as the last line. `url`: the server's address for the phone setup link."""
    args: list[str | Path] = ["users", "add", name, "--role", role, "--area", area]
    if url is not None:
        args += ["--url", url]
    out = run_coso(*args, "--db", Path(db).absolute(), timeout=60)
    return out.strip().splitlines()[-1].strip()


def free_port() -> int:
    """A loopback TCP port free at the moment of asking (the OS picks it), so that servers
    started side by side, or one after another, never collide."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class RunningServer:
    """A `coso serve` subprocess that answered `GET /healthz`."""

    url: str
    port: int
    db: Path
    log: Path  # its standard output and error, appended to
    proc: subprocess.Popen[bytes] = field(repr=False)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def kill(self) -> None:
        """SIGKILL, as a power cut or the OOM killer would: no shutdown code runs. The block
        of `running_server` then ends without stopping it again."""
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10) -> None:
        """A clean shutdown by `sig` (uvicorn closes the store, folding the WAL in); SIGKILL
        if it has not exited within `timeout` seconds. Nothing if it has already exited."""
        if self.proc.poll() is not None:
            return
        self.proc.send_signal(sig)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


@contextlib.contextmanager
def running_server(
    db: Path,
    log: Path,
    *,
    port: int | None = None,
    extra_args: Sequence[str] = (),
    ready_timeout: float = 60,
    stop_signal: int = signal.SIGTERM,
    stop_timeout: float = 10,
    ready: tuple[int, ...] = (200,),
) -> Iterator[RunningServer]:
    """`coso serve --db DB` on a loopback port (a free one unless given), its output appended
    to `log`; yields once `/healthz` answers 200 (or a status of `ready`: 503 for a damaged
    database, which a start may find), and stops it when the block ends (see
    `RunningServer.stop`). A restart on the same database is another `running_server` on the
    same `db` and `log`. Raises RuntimeError, with the end of the log, if the server exits or
    has not answered within `ready_timeout` seconds."""
    # a port free when asked may be taken before the server binds it (by an outgoing
    # connection of a test beside it): one of our choosing is chosen again, twice at most
    again = 2 if port is None else 0
    db = Path(db).absolute()  # the server runs from the repository root

    def start(port: int) -> RunningServer:
        cmd = [
            *coso_command(),
            "serve",
            "--db",
            str(db),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ]
        with log.open("ab") as out:
            proc = subprocess.Popen(
                [*cmd, *extra_args], stdout=out, stderr=subprocess.STDOUT, cwd=ROOT
            )
        return RunningServer(f"http://127.0.0.1:{port}", port, db, log, proc)

    said = log.stat().st_size if log.exists() else 0
    server = start(free_port() if port is None else port)
    try:
        deadline = time.monotonic() + ready_timeout
        with httpx.Client(timeout=1) as probe:
            while True:
                with contextlib.suppress(httpx.HTTPError):
                    if probe.get(f"{server.url}/healthz").status_code in ready:
                        break
                proc = server.proc
                if proc.poll() is not None and again and b"cannot listen on" in _since(log, said):
                    again -= 1
                    said = log.stat().st_size
                    server = start(free_port())
                    continue
                if proc.poll() is not None:
                    raise RuntimeError(f"coso serve exited with {proc.returncode}:{_tail(log)}")
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"coso serve did not answer in {ready_timeout} s:{_tail(log)}"
                    )
                time.sleep(0.05)
        yield server
    finally:
        server.stop(stop_signal, stop_timeout)


def _since(log: Path, offset: int) -> bytes:
    """What a server log got after `offset` bytes."""
    with log.open("rb") as f:
        f.seek(offset)
        return f.read()


def _tail(log: Path, chars: int = 8000) -> str:
    """The end of a server log, for an error message."""
    text = log.read_text(encoding="utf-8", errors="replace")
    return "\n" + ("..." if len(text) > chars else "") + text[-chars:]


@cache
def _template() -> tuple[Any, dict[str, tuple[Any, str]]]:
    from server.app import ROOT
    from server.auth import add_user
    from server.catalog import Catalog, publish_files, schema_files
    from server.store import Store

    store = Store(":memory:")
    publish_files(Catalog(store), schema_files(ROOT / "schemas"))
    users = {
        name: add_user(store, name, role, area)
        for name, role, area in [
            ("officer", "officer", "01.00070"),
            ("officer2", "officer", "01.00070"),
            ("supervisor", "supervisor", "01"),
        ]
    }
    return store, users


def fresh_store() -> tuple[Any, dict[str, Any], dict[str, str]]:
    """(store, users, tokens): a new in-memory store with the real forms published and two
    officers of 01.00070 and a supervisor of 01, copied from one template with SQLite's
    backup (under a millisecond, against ~100 ms to publish the forms for every example)."""
    from server.store import Store

    template, users = _template()
    store = Store(":memory:")
    template.db.conn.backup(store.db.conn)
    return (
        store,
        {name: user for name, (user, _) in users.items()},
        {name: token for name, (_, token) in users.items()},
    )


def asgi_scope(
    method: str,
    path: str,
    headers: list[tuple[bytes, bytes]],
    *,
    query: bytes = b"",
    client: str = "127.0.0.1",
) -> dict[str, Any]:
    """An HTTP scope for calling the app straight over ASGI (a hand-made body stream, a
    client that stops reading, a chosen client address)."""
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query,
        "root_path": "",
        "headers": [(b"host", b"testserver.local"), *headers],
        "client": (client, 50000),
        "server": ("testserver.local", 80),
        "state": {},
    }
