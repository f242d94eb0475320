"""Shared test setup: the hypothesis profile, picked by HYPOTHESIS_PROFILE (default "dev")."""

import os

from hypothesis import settings

# ci: 200 examples a property (300 took CI to 19 of its 20 minutes on a busy machine)
settings.register_profile("ci", max_examples=120, deadline=None)
settings.register_profile("dev", max_examples=60, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))


# --- the app over the TestClient, on an in-memory database -------------------------------

import functools  # noqa: E402
from collections.abc import Iterator  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import pytest  # noqa: E402
from litestar import Litestar  # noqa: E402
from litestar.testing import TestClient  # noqa: E402

from server.app import ROOT, Settings, create_app  # noqa: E402
from server.auth import add_user  # noqa: E402
from server.catalog import Catalog, schema_files  # noqa: E402
from server.form_source import read_file  # noqa: E402
from server.forms import FormDef, parse_definition, read_source  # noqa: E402
from server.store import Store  # noqa: E402
from tests.support import run_cli  # noqa: E402

OFFICER_AREA = "01.00070"  # Phường Hoàn Kiếm, Thành phố Hà Nội
OTHER_COMMUNE = "01.00004"  # Phường Ba Đình, same province
OTHER_PROVINCE = "79.26743"  # Phường Bến Thành, Thành phố Hồ Chí Minh


@dataclass
class Api:
    """A running app with the real forms published and a user per role."""

    client: TestClient[Any]
    store: Store
    catalog: Catalog
    tokens: dict[str, str] = field(default_factory=dict)

    def user(self, name: str, role: str, area: str) -> str:
        """Create a user; returns its token."""
        return add_user(self.store, name, role, area)[1]

    def auth(self, who: str) -> dict[str, str]:
        """Headers for a named user (`officer`, `supervisor`, `admin`, or one made by user())."""
        return {"Authorization": f"Bearer {self.tokens.get(who, who)}"}

    def push(self, who: str, submissions: list[dict[str, Any]], device_id: str = "phone-1") -> Any:
        r = self.client.post(
            "/api/v1/sync/push",
            json={"device_id": device_id, "submissions": submissions},
            headers=self.auth(who),
        )
        assert r.status_code == 200, r.text
        return r.json()["results"]


@functools.cache
def shared_app() -> Litestar:
    """One app for the session: building it is most of a test's setup, and each TestClient
    runs its lifespan, which opens a fresh in-memory store and catalogue."""
    return create_app(Settings(db=":memory:"))


@functools.cache
def shipped_forms() -> tuple[FormDef, ...]:
    """The shipped definitions, in publishing order, read once for the session: reading their
    YAML was half of each API test's setup (the publishing itself is done for every test)."""
    files = schema_files(ROOT / "schemas")
    return tuple(parse_definition(read_source(read_file(p), p.name)) for p in files)


@pytest.fixture
def api() -> Iterator[Api]:
    with TestClient(shared_app()) as client:
        store, catalog = client.app.state.store, client.app.state.catalog
        for form in shipped_forms():
            catalog.publish(form, None, "cli")
        a = Api(client, store, catalog)
        a.tokens = {
            "officer": a.user("officer", "officer", OFFICER_AREA),
            "officer2": a.user("officer2", "officer", OFFICER_AREA),
            "other_officer": a.user("other_officer", "officer", OTHER_COMMUNE),
            "supervisor": a.user("supervisor", "supervisor", "01"),
            "other_supervisor": a.user("other_supervisor", "supervisor", "79"),
            "admin": a.user("admin", "admin", ""),
        }
        yield a


@pytest.fixture
def live(tmp_path: Path) -> Path:
    """A coso database file with a user (an admin) in it, made by `coso users add`."""
    db = tmp_path / "coso.db"
    assert run_cli("users", "add", "a", "--role", "admin", "--area", "", "--db", db).exit_code == 0
    return db
