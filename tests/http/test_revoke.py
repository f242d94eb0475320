"""A lost phone: `coso users disable` turns its token away from a server that keeps running,
and `coso users enable` lets it back in, with no restart (tokens are looked up on every
request, never cached). In-process first (the app over a database file, the CLI beside it),
then as an operator does it: a real `coso serve` and the real `coso` command."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from litestar.testing import TestClient

from server.app import Settings, create_app
from server.cli import main
from tests.support import assert_problem, cli_add_user, run_coso, running_server


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def cli(*args: str | Path) -> str:
    result = CliRunner().invoke(main, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    return result.stdout


def user_changes(client: Any, admin: str) -> list[tuple[Any, ...]]:
    r = client.get("/api/v1/audit", headers=bearer(admin))
    assert r.status_code == 200, r.text
    return [
        (e["user"], e["device_id"], e["action"], e["target"], e["detail"])
        for e in r.json()["entries"]
        if e["action"] in ("user.disable", "user.enable")
    ]


def test_disable_and_enable_while_the_app_runs(tmp_path: Path) -> None:
    db = tmp_path / "coso.db"
    admin = cli("users", "add", "quan-tri", "--role", "admin", "--area", "", "--db", db)
    admin = admin.strip().splitlines()[-1]
    phone = cli("users", "add", "lan", "--role", "officer", "--area", "01.00070", "--db", db)
    phone = phone.strip().splitlines()[-1]
    with TestClient(create_app(Settings(db=str(db)))) as client:
        assert client.get("/api/v1/me", headers=bearer(phone)).status_code == 200
        cli("users", "disable", "lan", "--db", db)
        for path in ("/api/v1/me", "/api/v1/forms", "/api/v1/sync/pull"):
            body = assert_problem(client.get(path, headers=bearer(phone)), 401)
            assert body["code"] == "account_disabled"
            assert body["detail"].startswith("Tài khoản đã bị khóa / this account is disabled")
        assert client.get("/api/v1/me", headers=bearer(admin)).status_code == 200  # only lan
        cli("users", "enable", "2", "--db", db)
        r = client.get("/api/v1/me", headers=bearer(phone))
        assert r.status_code == 200
        assert r.json()["name"] == "lan"
        detail = {"id": 2, "role": "officer", "area": "01.00070"}
        assert user_changes(client, admin) == [
            (None, "cli", "user.disable", "lan", detail),  # by the `coso` command: no user
            (None, "cli", "user.enable", "lan", detail),
        ]


def test_a_disabled_token_is_no_failed_sign_in(tmp_path: Path) -> None:
    """A disabled user's phone keeps trying (behind a TLS proxy every phone has one address):
    it is told its account is disabled every time, never 429, and it costs no other phone
    the failures a guesser is allowed."""
    db = tmp_path / "coso.db"
    phone = cli("users", "add", "lan", "--role", "officer", "--area", "01.00070", "--db", db)
    phone = phone.strip().splitlines()[-1]
    cli("users", "disable", "lan", "--db", db)
    with TestClient(create_app(Settings(db=str(db)))) as client:
        for _ in range(30):
            body = assert_problem(client.get("/api/v1/sync/pull", headers=bearer(phone)), 401)
            assert body["code"] == "account_disabled"
        for _ in range(20):  # a guesser's failures still count, from the first one
            assert client.get("/api/v1/me", headers=bearer("x" + phone)).status_code == 401
        assert assert_problem(client.get("/api/v1/me", headers=bearer("guess")), 429)
        body = assert_problem(client.get("/api/v1/me", headers=bearer(phone)), 401)
        assert body["code"] == "account_disabled"  # the phone still learns why


@pytest.mark.slow
def test_a_running_server_refuses_a_disabled_token_at_once(tmp_path: Path) -> None:
    db, log = tmp_path / "coso.db", tmp_path / "serve.log"
    admin = cli_add_user(db, "quan-tri", "admin", "")
    phone = cli_add_user(db, "lan", "officer", "01.00070")
    with running_server(db, log) as server, httpx.Client(base_url=server.url, timeout=30) as client:
        assert client.get("/api/v1/me", headers=bearer(phone)).status_code == 200
        out = run_coso("users", "disable", "lan", "--db", db)
        assert "đã khóa / disabled: 2 lan" in out
        assert_problem(client.get("/api/v1/me", headers=bearer(phone)), 401)
        assert "đã khóa / disabled" in run_coso("users", "list", "--db", db).splitlines()[2]
        run_coso("users", "enable", "lan", "--db", db)
        assert client.get("/api/v1/me", headers=bearer(phone)).status_code == 200
        assert [change[2] for change in user_changes(client, admin)] == [
            "user.disable",
            "user.enable",
        ]
        assert server.proc.poll() is None  # the same server throughout
