"""The address `coso serve` prints (its banner, the demo officer's setup link) when no --url
is given: one a browser can open, whatever --host is."""

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from server.cli import main


@pytest.mark.parametrize(
    ("host", "url"),
    [
        ("127.0.0.1", "http://localhost:8123"),
        ("0.0.0.0", "http://localhost:8123"),  # noqa: S104
        ("::", "http://localhost:8123"),
    ],
)
def test_serve_prints_an_address_a_browser_can_open(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, host: str, url: str
) -> None:
    started: list[dict[str, Any]] = []
    monkeypatch.setattr(
        "uvicorn.Server.run",
        lambda self, sockets=None: started.append(
            {"host": self.config.host, "port": self.config.port}
        ),
    )
    monkeypatch.setattr("server.cli_serve.check_port", lambda host, port: None)
    db = tmp_path / "coso.db"
    result = CliRunner().invoke(
        main, ["serve", "--db", str(db), "--host", host, "--port", "8123", "--demo"]
    )
    assert result.exit_code == 0, result.output
    assert started == [{**started[0], "host": host, "port": 8123}]
    assert f"coso chạy tại / on {url}  — API {url}/api/v1" in result.output
    assert f"setup link / liên kết cài đặt: {url}/app/#token=" in result.output


def test_an_ipv6_address_is_written_in_brackets() -> None:
    from server.cli_serve import default_url

    assert default_url("fd00::5", 8000) == "http://[fd00::5]:8000"
    assert default_url("10.0.0.7", 8000) == "http://10.0.0.7:8000"


@pytest.mark.parametrize(
    "url",
    [
        "coso.example.vn",  # no scheme: the link was `coso.example.vn/app/#token=…`
        "",  # the link was `/app/#token=…`
        "ftp://coso.example.vn",
        "https://",
        "https:///app/",
        "https://coso.example.vn?x=1",
        "https://coso.example.vn/#a",
        "https://coso.example.vn:80a",
        "https://coso example.vn",
        "https://coso.example.vn:0",  # no port phones can reach
        "https://admin:mat-khau@coso.example.vn",  # the password in every setup link
    ],
)
@pytest.mark.parametrize("command", ["users-add", "serve"])
def test_a_url_phones_cannot_open_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, url: str, command: str
) -> None:
    monkeypatch.setattr("uvicorn.Server.run", lambda self, sockets=None: pytest.fail("served"))
    db = tmp_path / "coso.db"
    args = {
        "users-add": ["users", "add", "lan", "--role", "officer", "--area", "01.00070"],
        "serve": ["serve", "--demo"],
    }[command]
    result = CliRunner().invoke(main, [*args, "--url", url, "--db", str(db)])
    assert result.exit_code == 2, result.output
    assert "--url" in result.stderr
    assert "cần địa chỉ http:// hoặc https://" in result.stderr
    assert "an http:// or https:// address with a" in result.stderr
    assert not db.exists()


@pytest.mark.parametrize(
    ("url", "base"),
    [
        ("https://coso.example.vn", "https://coso.example.vn"),
        ("https://coso.example.vn/", "https://coso.example.vn"),
        ("https://coso.example.vn/app/", "https://coso.example.vn"),  # was …/app/app/#token=
        ("https://coso.example.vn/app", "https://coso.example.vn"),
        ("https://coso.example.vn/app/app/", "https://coso.example.vn"),
        ("https://coso.example.vn/APP/", "https://coso.example.vn"),
        # behind a proxy at a sub-path: the app's URLs are relative, so it works there
        ("https://example.vn/coso/", "https://example.vn/coso"),
        ("https://example.vn/coso/app/", "https://example.vn/coso"),
        ("HTTP://[fd00::5]:8000", "http://[fd00::5]:8000"),
    ],
)
def test_a_setup_link_is_the_server_address_and_app(tmp_path: Path, url: str, base: str) -> None:
    args = ["users", "add", "lan", "--role", "officer", "--area", "01.00070", "--url", url]
    result = CliRunner().invoke(main, [*args, "--db", str(tmp_path / "coso.db")])
    assert result.exit_code == 0, result.output
    token = result.stdout.strip().splitlines()[-1]
    assert f"\n{base}/app/#token={token}\n" in result.stdout


def test_serve_prints_the_address_given_less_the_apps_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("uvicorn.Server.run", lambda self, sockets=None: None)
    monkeypatch.setattr("server.cli_serve.check_port", lambda host, port: None)
    url = "https://example.vn/coso/app/"
    result = CliRunner().invoke(
        main, ["serve", "--db", str(tmp_path / "coso.db"), "--url", url, "--demo"]
    )
    assert result.exit_code == 0, result.output
    base = "https://example.vn/coso"
    assert f"coso chạy tại / on {base}  — API {base}/api/v1" in result.output
    assert f"setup link / liên kết cài đặt: {base}/app/#token=" in result.output
