"""`coso users list`, `disable` and `enable`, run in-process with click's runner on a real
database file. (What they refuse is in test_cli_refusals.py; a disabled token against a
running server in tests/http/test_revoke.py.)"""

import json
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest
from click.testing import CliRunner

from server.auth import add_user, token_hash
from server.cli import main
from server.store import Store


def run(*args: str | Path) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, [str(a) for a in args])
    return result.exit_code, result.stdout, result.stderr


def add(db: Path, name: str, role: str, area: str) -> str:
    code, out, err = run("users", "add", name, "--role", role, "--area", area, "--db", db)
    assert code == 0, err
    return out.strip().splitlines()[-1]


def token_works(db: Path, token: str) -> bool:
    store = Store(db)
    try:
        found = store.user_by_token_hash(token_hash(token))
        return found is not None and not found[2]
    finally:
        store.close()


def audit(db: Path) -> list[tuple[object, ...]]:
    with closing(sqlite3.connect(db)) as conn:
        return conn.execute(
            "SELECT user_id, device_id, action, target, detail FROM audit ORDER BY seq"
        ).fetchall()


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "coso.db"


def test_list_shows_every_user_with_its_area_name_and_whether_disabled(db: Path) -> None:
    add(db, "quan-tri", "admin", "")
    add(db, "lan", "officer", "01.00070")
    add(db, "giam-sat", "supervisor", "01")
    assert run("users", "disable", "lan", "--db", db)[0] == 0
    code, out, _ = run("users", "list", "--db", db)
    assert code == 0
    header, *lines = out.splitlines()
    for word in ("id", "tên / name", "vai trò / role", "địa bàn / area", "trạng thái / status"):
        assert word in header
    assert len(lines) == 3
    with closing(sqlite3.connect(db)) as conn:
        made = dict(conn.execute("SELECT name, created_at FROM users"))
    admin, officer, supervisor = lines
    assert admin.split()[:3] == ["1", "quan-tri", "admin"]
    assert "(all areas / toàn quốc)" in admin and "hoạt động / active" in admin
    assert officer.split()[:3] == ["2", "lan", "officer"]
    assert "01.00070 Phường Hoàn Kiếm, Thành phố Hà Nội" in officer
    assert "đã khóa / disabled" in officer
    assert officer.index("Hoàn Kiếm") < officer.index(made["lan"]) < officer.index("đã khóa")
    assert supervisor.split()[:4] == ["3", "giam-sat", "supervisor", "01"]
    assert "Thành phố Hà Nội" in supervisor and "hoạt động / active" in supervisor
    for line in lines:  # the columns line up under the header
        assert line.index("20") == header.index("tạo lúc / created")


def test_list_of_a_database_with_no_users(db: Path) -> None:
    Store(db).close()
    code, out, _ = run("users", "list", "--db", db)
    assert code == 0
    assert out.strip() == "chưa có người dùng / no users yet"


def test_disable_and_enable_by_name_or_id_are_audited(db: Path) -> None:
    lan = add(db, "lan", "officer", "01.00070")
    other = add(db, "minh", "officer", "01.00070")
    code, out, _ = run("users", "disable", "lan", "--db", db)
    assert code == 0
    assert "đã khóa / disabled: 1 lan" in out and "Phường Hoàn Kiếm" in out
    assert not token_works(db, lan)
    assert token_works(db, other)  # only that user
    code, out, _ = run("users", "enable", "1", "--db", db)
    assert code == 0
    assert "đã mở khóa / enabled: 1 lan" in out
    assert token_works(db, lan)  # the same token, working again
    detail = {"id": 1, "role": "officer", "area": "01.00070"}
    assert [(*row[:4], json.loads(str(row[4]))) for row in audit(db)[2:]] == [
        (None, "cli", "user.disable", "lan", detail),  # by the `coso` command: no user
        (None, "cli", "user.enable", "lan", detail),
    ]


def test_a_new_token_for_a_leaked_link_keeps_the_account(db: Path) -> None:
    """A setup link sent to the wrong chat: the admin gives the officer a new token. The old
    one is refused at once, the account is the same (id, records; a phone set up again keeps
    what it holds), and the new link and token are printed as `users add` prints them. Before,
    the only way was a second account, which a phone asked to take over as another officer's,
    its drafts deleted (found by a probe)."""
    leaked = add(db, "Lê Thị Hoa", "officer", "01.00070")
    other = add(db, "minh", "officer", "01.00070")
    code, out, err = run("users", "new-token", "Lê Thị Hoa", "--url", "https://coso.example.vn",
                         "--db", db)  # fmt: skip
    assert code == 0, err
    new = out.strip().splitlines()[-1]
    assert f"https://coso.example.vn/app/#token={new}" in out
    assert "mã cũ bị từ chối từ bây giờ / the old one is refused from now on" in out
    assert not token_works(db, leaked)
    assert token_works(db, new) and token_works(db, other)
    with closing(sqlite3.connect(db)) as conn:
        assert conn.execute("SELECT id, name FROM users ORDER BY id").fetchall() == [
            (1, "Lê Thị Hoa"),
            (2, "minh"),
        ]
    row = audit(db)[-1]
    assert row[:4] == (None, "cli", "user.new_token", "Lê Thị Hoa")
    assert json.loads(str(row[4])) == {"id": 1, "role": "officer", "area": "01.00070"}
    assert run("users", "disable", "1", "--db", db)[0] == 0
    code, out, err = run("users", "new-token", "1", "--db", db)
    assert code == 0 and "coso users enable" in err
    assert not token_works(db, out.strip().splitlines()[-1])  # still disabled
    assert run("users", "new-token", "ai-do", "--db", db)[0] == 2


def test_disabling_twice_says_so_and_changes_nothing(db: Path) -> None:
    add(db, "lan", "officer", "01.00070")
    assert run("users", "disable", "lan", "--db", db)[0] == 0
    before = audit(db)
    code, out, _ = run("users", "disable", "lan", "--db", db)
    assert code == 0
    assert "already disabled, nothing changed" in out and "đã khóa từ trước" in out
    code, out, _ = run("users", "enable", "lan", "--db", db)
    assert code == 0
    code, out, _ = run("users", "enable", "lan", "--db", db)
    assert code == 0
    assert "not disabled, nothing changed" in out and "không bị khóa" in out
    assert [row[2] for row in audit(db)[len(before) :]] == ["user.enable"]


def test_an_id_names_its_user_even_when_another_has_that_name(db: Path) -> None:
    """An id always names one user, so any user can be disabled, however they are named."""
    first = add(db, "lan", "officer", "01.00070")
    named_one = add(db, "1", "officer", "01.00070")
    assert run("users", "disable", "1", "--db", db)[0] == 0
    assert not token_works(db, first)
    assert token_works(db, named_one)
    assert run("users", "disable", "2", "--db", db)[0] == 0
    assert not token_works(db, named_one)


def test_a_name_is_matched_as_stored(db: Path) -> None:
    """Names are stored NFC without the spaces around them; USER is read the same way."""
    token = add(db, "Nguyễn Lan", "officer", "01.00070")
    decomposed = "  Nguye\u0302\u0303n Lan "
    assert run("users", "disable", decomposed, "--db", db)[0] == 0
    assert not token_works(db, token)


def test_runs_of_spaces_in_a_name_are_one_space_stored_and_looked_up(db: Path) -> None:
    """`users disable "Lê Văn Tám"` did not find "Lê   Văn  Tám": a name is stored with one
    space between its words, and USER is read so, as are names an older coso stored."""
    token = add(db, "Lê   Văn\u3000 Tám", "officer", "01.00070")
    with closing(sqlite3.connect(db)) as conn:
        assert conn.execute("SELECT name FROM users").fetchall() == [("Lê Văn Tám",)]
    assert run("users", "disable", "Lê  Văn Tám", "--db", db)[0] == 0
    assert not token_works(db, token)
    store = Store(db)
    try:  # as an older coso stored it
        _, older = add_user(store, "Trần   Lan", "officer", "01.00070")
    finally:
        store.close()
    code, _, err = run("users", "disable", "Trần Lan", "--db", db)
    assert code == 0, err
    assert not token_works(db, older)


def test_list_keeps_one_line_per_user_whatever_the_name(db: Path) -> None:
    # `users add` refuses such a name now; one made before that, or by the library, remains
    store = Store(db)
    try:
        add_user(store, "lan\nanh", "officer", "01.00070")
    finally:
        store.close()
    add(db, "minh", "officer", "01.00070")
    code, out, _ = run("users", "list", "--db", db)
    assert code == 0
    lines = out.splitlines()
    assert len(lines) == 3  # the header and two users
    assert lines[1].split()[:2] == ["1", "'lan\\nanh'"]
