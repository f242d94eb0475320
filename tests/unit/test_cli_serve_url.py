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
    monkeypatch.setattr("uvicorn.run", lambda app, **kw: started.append(kw))
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
