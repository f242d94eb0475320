"""What the `coso` commands refuse, in-process on real files: a message in both languages and
a non-zero exit, never a traceback, and nothing made or changed. (`coso serve`'s refusals are
in tests/http/test_cli_serve.py: a regression there would start a server.)"""

import json
import random
import sqlite3
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

import pytest
from click.testing import Result

from server.app import ROOT
from tests.support import run_cli as run

SCHEMA = ROOT / "schemas" / "hoa_giai.v1.yaml"


def refused(result: Result, *words: str) -> None:
    assert result.exit_code != 0, result.output
    assert isinstance(result.exception, SystemExit), result.exception  # a message, no traceback
    for word in words:
        assert word in result.output


def user_count(db: Path) -> int:
    with closing(sqlite3.connect(db)) as conn:
        return int(conn.execute("SELECT count(*) FROM users").fetchone()[0])


def sqlite_file(path: Path, *statements: str) -> Path:
    with closing(sqlite3.connect(path)) as conn:
        for statement in statements:
            conn.execute(statement)
        conn.commit()
    return path


# --- restore: only a whole coso database goes in ------------------------------------------


@pytest.mark.parametrize(
    ("make", "why"),
    [
        (lambda p: p.write_bytes(b""), "not a coso database"),
        (lambda p: p.write_bytes(b"\x00" * 4096), "not a SQLite database"),
        (lambda p: p.write_text("hello\n"), "not a SQLite database"),
        (lambda p: p.write_bytes(random.Random(2).randbytes(8192)), "not a SQLite database"),
        (lambda p: sqlite_file(p, "CREATE TABLE t (x)"), "not a coso database"),
        # a table of coso's name, in a database coso never made
        (lambda p: sqlite_file(p, "CREATE TABLE meta (key, value)"), "not a coso database"),
        (lambda p: sqlite_file(p, "PRAGMA user_version = 1"), "not a coso database"),
    ],
    ids=["empty", "zeros", "text", "random", "other-sqlite", "meta-only", "version-only"],
)
def test_restore_refuses_what_is_not_a_coso_backup_and_keeps_the_database(
    live: Path, tmp_path: Path, make: Callable[[Path], object], why: str
) -> None:
    before = live.read_bytes()
    bad = tmp_path / "bad.db"
    make(bad)
    refused(run("restore", bad, "--db", live), why, "không phải cơ sở dữ liệu")
    assert live.read_bytes() == before
    assert user_count(live) == 1


def test_a_restore_onto_a_new_machine_makes_the_database(live: Path, tmp_path: Path) -> None:
    backup = tmp_path / "b.db"
    assert run("backup", backup, "--db", live).exit_code == 0
    target = tmp_path / "new" / "coso.db"
    target.parent.mkdir()
    result = run("restore", backup, "--db", target)
    assert result.exit_code == 0, result.output
    assert user_count(target) == 1


def test_a_refused_restore_onto_a_new_machine_leaves_no_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.db"
    bad.write_text("hello\n")
    target = tmp_path / "new" / "coso.db"
    target.parent.mkdir()
    refused(run("restore", bad, "--db", target), "not a SQLite database")
    assert list(target.parent.iterdir()) == []


def test_restore_refuses_a_backup_from_a_newer_coso(live: Path, tmp_path: Path) -> None:
    newer = tmp_path / "newer.db"
    assert run("backup", newer, "--db", live).exit_code == 0
    sqlite_file(newer, "PRAGMA user_version = 99")
    refused(run("restore", newer, "--db", live), "newer coso", "mới hơn")


def test_restore_refuses_to_put_a_backup_over_a_newer_cosos_database(
    live: Path, tmp_path: Path
) -> None:
    """Every command refuses a database a newer coso made; restore put an older backup over it,
    its newer data gone (found by an audit of the README's claims)."""
    backup = tmp_path / "b.db"
    assert run("backup", backup, "--db", live).exit_code == 0
    with closing(sqlite3.connect(live)) as conn:
        conn.execute("PRAGMA user_version = 99")
    before = live.read_bytes()
    refused(run("restore", backup, "--db", live), "newer coso (schema 99", "nâng cấp coso")
    assert live.read_bytes() == before
    assert not list(tmp_path.glob("*.restoring*"))


def test_restore_refuses_the_database_onto_itself(live: Path) -> None:
    before = live.read_bytes()
    refused(run("restore", live, "--db", live), "the database itself")
    assert live.read_bytes() == before


# --- a --db that is not there is not made ---------------------------------------------------


@pytest.mark.parametrize(
    "command",
    [
        ["export", "hoa_giai"],
        ["export", "hoa_giai", "--format", "jsonl", "--out", "{tmp}/out.jsonl"],
        ["backup", "{tmp}/b.db"],
        ["forms", "publish", str(SCHEMA)],
        ["users", "list"],
        ["users", "disable", "a"],
        ["users", "enable", "a"],
    ],
    ids=["export", "export-out", "backup", "forms-publish", "users-list", "disable", "enable"],
)
def test_commands_refuse_a_database_that_does_not_exist(tmp_path: Path, command: list[str]) -> None:
    missing = tmp_path / "missing.db"
    args = [a.format(tmp=tmp_path) for a in command]
    refused(run(*args, "--db", missing), f"no database at {missing}", "không có cơ sở dữ liệu")
    assert sorted(tmp_path.iterdir()) == []  # no database, no backup, no export


@pytest.mark.parametrize(
    "command",
    [
        ["export", "hoa_giai"],
        ["backup", "{tmp}/b.db"],
        ["forms", "publish", str(SCHEMA)],
        ["users", "list"],
        ["users", "disable", "a"],
    ],
    ids=["export", "backup", "forms-publish", "users-list", "disable"],
)
def test_commands_refuse_an_empty_file_for_a_database(tmp_path: Path, command: list[str]) -> None:
    """`touch coso.db`, or a copy that failed: `users list` said "no users yet" and left a
    coso database in its place (found by a probe), as no missing path may become one."""
    empty = tmp_path / "coso.db"
    empty.touch()
    args = [a.format(tmp=tmp_path) for a in command]
    refused(run(*args, "--db", empty), f"{empty} is an empty file", "là tệp rỗng")
    assert sorted(tmp_path.iterdir()) == [empty] and empty.stat().st_size == 0


def test_users_add_makes_a_new_database_but_not_a_directory(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "c.db"
    refused(
        run("users", "add", "a", "--role", "admin", "--area", "", "--db", missing),
        "no directory",
        "không có thư mục",
    )
    assert not missing.parent.exists()
    made = tmp_path / "new.db"
    assert run("users", "add", "a", "--role", "admin", "--area", "", "--db", made).exit_code == 0
    assert user_count(made) == 1


# --- a --db that is not a coso database -------------------------------------------------------


def bad_databases(tmp_path: Path) -> list[tuple[Path, str]]:
    junk = tmp_path / "junk.db"
    junk.write_bytes(random.Random(3).randbytes(8192))
    other = sqlite_file(tmp_path / "other.db", "CREATE TABLE t (x)")
    folder = tmp_path / "folder.db"
    folder.mkdir()
    return [
        (tmp_path / "nowhere" / "c.db", "no "),
        (folder, "is a directory"),
        (junk, "not a coso database (file is not a database)"),
        (other, "not a coso database (it holds another program's tables"),
    ]


@pytest.mark.parametrize(
    "command",
    [
        ["export", "hoa_giai"],
        ["users", "add", "lan", "--role", "officer", "--area", "01.00070"],
        ["forms", "publish", str(SCHEMA)],
        ["backup", "{tmp}/b.db"],
        ["users", "list"],
        ["users", "disable", "a"],
    ],
    ids=["export", "users-add", "forms-publish", "backup", "users-list", "users-disable"],
)
def test_commands_refuse_a_database_they_cannot_use(tmp_path: Path, command: list[str]) -> None:
    args = [a.format(tmp=tmp_path) for a in command]
    for db, why in bad_databases(tmp_path):
        before = db.read_bytes() if db.is_file() else None
        refused(run(*args, "--db", db), why, " / ")
        assert (db.read_bytes() if db.is_file() else None) == before
        assert not (tmp_path / "b.db").exists()
    assert not (tmp_path / "nowhere").exists()


def test_restore_refuses_a_target_that_is_not_a_database(live: Path, tmp_path: Path) -> None:
    backup = tmp_path / "good-backup.db"
    assert run("backup", backup, "--db", live).exit_code == 0
    for db, why in bad_databases(tmp_path)[:3]:
        if why.startswith("not a coso database (file"):
            why = "not a SQLite database (file is not a database); move it aside"
        before = db.read_bytes() if db.is_file() else None
        refused(run("restore", backup, "--db", db), why, " / ")
        assert (db.read_bytes() if db.is_file() else None) == before
    assert not (tmp_path / "nowhere").exists()


def test_restore_puts_a_backup_in_place_of_another_programs_database(
    live: Path, tmp_path: Path
) -> None:
    """A SQLite database named by --db is overwritten, whoever's it was: the operator named
    it. (A file that is not SQLite at all is refused, above.)"""
    backup = tmp_path / "good-backup.db"
    assert run("backup", backup, "--db", live).exit_code == 0
    other = sqlite_file(tmp_path / "other.db", "CREATE TABLE t (x)")
    assert run("restore", backup, "--db", other).exit_code == 0
    assert user_count(other) == 1


# --- files that are not there, or not text ---------------------------------------------------


def test_backup_into_a_directory_that_does_not_exist(live: Path, tmp_path: Path) -> None:
    target = tmp_path / "nowhere" / "b.db"
    refused(run("backup", target, "--db", live), "no directory", "không có thư mục")
    assert not target.parent.exists()


def test_export_into_a_directory_that_does_not_exist(live: Path, tmp_path: Path) -> None:
    assert run("forms", "publish", SCHEMA, "--db", live).exit_code == 0
    target = tmp_path / "nowhere" / "x.csv"
    refused(
        run("export", "hoa_giai", "--out", target, "--db", live),
        "no directory",
        "không có thư mục",
    )
    assert not target.parent.exists()


@pytest.mark.parametrize(
    "content",
    ["title: café\n".encode("latin-1"), b"\xff\xfe\x00\x01binary\x00", b"form_id: x\n\x80"],
    ids=["latin1", "binary", "stray-byte"],
)
def test_forms_publish_refuses_a_file_that_is_not_utf8(
    live: Path, tmp_path: Path, content: bytes
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_bytes(content)
    # the good file is not published either: every file is read before any is published
    refused(
        run("forms", "publish", SCHEMA, bad, "--db", live),
        "save it as UTF-8",  # UTF-16 (Notepad's "Unicode") named as such
        "hãy lưu lại với mã UTF-8",
    )
    with closing(sqlite3.connect(live)) as conn:
        assert conn.execute("SELECT count(*) FROM forms").fetchone()[0] == 0


def deep_form(depth: int) -> bytes:
    label = {"vi": "Nhãn", "en": "Label"}
    inner: dict[str, object] = {"name": "la", "type": "text", "label": label}
    for level in range(depth, 0, -1):
        inner = {"name": f"nhom_{level}", "type": "repeat", "label": label, "fields": [inner]}
    return json.dumps({"form_id": "sau", "title": label, "fields": [inner]}).encode()


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("deep.json", deep_form(9)),
        ("deeper.json", deep_form(250)),
        ("alias.yaml", b"form_id: ab\nfields: &f [{name: a, fields: *f}]\n"),
    ],
    ids=["9", "250", "alias-in-itself"],
)
def test_forms_publish_refuses_nesting_too_deep(
    live: Path, tmp_path: Path, name: str, content: bytes
) -> None:
    """A RecursionError once came out of `coso forms publish` as a traceback."""
    bad = tmp_path / name
    bad.write_bytes(content)
    result = run("forms", "publish", bad, "--db", live)
    refused(result, "Lồng nhau quá sâu", "chưa xuất bản")
    assert "Traceback" not in result.output
    if name != "alias.yaml":
        assert f"{'.'.join(['fields[0]'] * 9)}: " in result.output
        assert "at most 8 deep" in result.output


# --- options out of range --------------------------------------------------------------------


@pytest.mark.parametrize("limit", ["0", "-1"])
def test_areas_search_limit_is_at_least_one(limit: str) -> None:
    result = run("areas", "search", "a", "--limit", limit)
    assert result.exit_code == 2
    assert "--limit" in result.output
    assert "no area matches" not in result.output


@pytest.mark.parametrize(
    "name",
    [
        "",
        "   ",
        "\t\n",
        # only invisible characters: each was made a user, with a name no one could see
        "\u200b",
        "\u200d",
        "\u2060",
        "\ufeff",
        "\u00ad",
        "\u0301\u0323",  # combining marks with nothing to sit on
        "\u3164",
        "\u115f",
        " \u200b \u3164\u2060 ",
    ],
)
def test_users_add_refuses_a_blank_name(live: Path, name: str) -> None:
    result = run("users", "add", name, "--role", "officer", "--area", "01.00070", "--db", live)
    assert result.exit_code == 2
    assert "cần có tên" in result.output
    assert user_count(live) == 1


@pytest.mark.parametrize(
    "name",
    ["Lan\u202e", "\u2066Lan", "Lan\x1b[31m", "L\x00an", "La\u2028n", "Lan\u200e", "L\x85an"],
)
def test_users_add_refuses_control_and_direction_characters(live: Path, name: str) -> None:
    """A name is shown in the audit log, the app's header and beside every submission: a
    right-to-left override there turns the text after it around (who wrote what, when)."""
    result = run("users", "add", name, "--role", "officer", "--area", "01.00070", "--db", live)
    assert result.exit_code == 2
    assert "không phải chữ" in result.output
    assert user_count(live) == 1


def test_users_add_keeps_a_name_without_the_spaces_around_it(live: Path) -> None:
    assert (
        run("users", "add", "  lan  ", "--role", "admin", "--area", "", "--db", live).exit_code == 0
    )
    with closing(sqlite3.connect(live)) as conn:
        assert conn.execute("SELECT name FROM users ORDER BY id DESC").fetchone() == ("lan",)


def test_users_add_refuses_an_admin_bound_to_an_area(live: Path) -> None:
    """PROTOCOL: an admin is "everything"; an admin of one province would still read the
    whole audit log and publish forms for all, so a bound admin is refused, not half-made."""
    result = run("users", "add", "qt", "--role", "admin", "--area", "01", "--db", live)
    assert result.exit_code == 2
    assert "--area ''" in result.output
    assert user_count(live) == 1


# --- users disable/enable: USER names exactly one user -----------------------------------------


def disabled_and_audit(db: Path) -> tuple[list[tuple[int, int]], int]:
    with closing(sqlite3.connect(db)) as conn:
        users = conn.execute("SELECT id, disabled FROM users ORDER BY id").fetchall()
        return users, int(conn.execute("SELECT count(*) FROM audit").fetchone()[0])


@pytest.mark.parametrize("command", ["disable", "enable"])
def test_users_disable_refuses_a_name_several_users_share(live: Path, command: str) -> None:
    for role, area in [("officer", "01.00070"), ("supervisor", "01")]:
        assert (
            run("users", "add", "lan", "--role", role, "--area", area, "--db", live).exit_code == 0
        )
    before = disabled_and_audit(live)
    result = run("users", command, "lan", "--db", live)
    assert result.exit_code == 2
    refused(result, "2 users are named 'lan' (ids 2, 3): give the id", "(mã số 2, 3)")
    assert result.output.count("Error:") == 1
    assert disabled_and_audit(live) == before  # nobody disabled, nothing audited


@pytest.mark.parametrize("user", ["nobody", "7", " ", "9" * 40])
def test_users_disable_refuses_an_unknown_user(live: Path, user: str) -> None:
    before = disabled_and_audit(live)
    for command in ("disable", "enable"):
        result = run("users", command, user, "--db", live)
        assert result.exit_code == 2
        refused(result, "no user has the id or name", "không có người dùng nào")
        # click's own words before ours too (they were English only)
        assert "Error: Giá trị không hợp lệ / Invalid value for USER: " in result.output
    assert disabled_and_audit(live) == before


@pytest.mark.parametrize(
    ("args", "vietnamese", "english"),
    [
        (["users", "add", "x", "--area", "01"], "Thiếu tùy chọn", "Missing option '--role'"),
        (["bogus"], "Không có lệnh này", "No such command 'bogus'"),
        (["--bogus"], "Không có tùy chọn này", "No such option '--bogus'"),
        (["export"], "Thiếu tham số", "Missing argument 'FORM_ID'"),
        (["export", "f", "--format", "pdf"], "Giá trị không hợp lệ", "'pdf' is not one of"),
        (["areas", "search", "a", "b"], "Thừa tham số", "unexpected extra argument (b)"),
        (["users", "list", "--db"], "Câu lệnh không đúng", "'--db' requires an argument"),
        # a variable left empty in a script: it was written to `.` ("Is a directory")
        (["export", "f", "--out", ""], "Giá trị không hợp lệ", "the file name is empty"),
    ],
)
def test_a_malformed_command_line_is_said_in_both_languages(
    args: list[str], vietnamese: str, english: str
) -> None:
    result = run(*args)
    assert result.exit_code == 2, result.output
    assert f"Error: {vietnamese}" in result.output and " / " in result.output
    assert english in result.output


def test_a_database_from_a_newer_coso_is_refused_by_every_command(live: Path) -> None:
    """A backup of a newer coso served as it is, or a database after a downgrade: this coso
    would misread and write into a schema it does not know."""
    with closing(sqlite3.connect(live)) as conn:
        conn.execute("PRAGMA user_version = 99")
    for args in (["users", "list"], ["users", "add", "b", "--role", "officer", "--area", "01"]):
        refused(run(*args, "--db", live), "comes from a newer coso (schema 99", "nâng cấp coso")
    with closing(sqlite3.connect(live)) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 99
        assert conn.execute("SELECT count(*) FROM users").fetchone()[0] == 1


def test_a_restore_stopped_before_its_end_leaves_the_old_database_whole(
    live: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The copy is made beside the database, gets its new identity, and is renamed over it
    last: stopped before the rename (killed, in real life), the old database is as it was,
    never the new data under the old identity (clients' cursors would be taken)."""
    import os

    from server import store as store_module

    backup = tmp_path / "backup.db"
    assert run("backup", backup, "--db", live).exit_code == 0
    assert run("users", "add", "b", "--role", "admin", "--area", "", "--db", live).exit_code == 0
    with closing(sqlite3.connect(live)) as conn:
        before_id = conn.execute("SELECT value FROM meta WHERE key = 'db_id'").fetchone()[0]

    def killed(src: object, dst: object) -> None:
        raise KeyboardInterrupt  # what a kill between the copy and the rename leaves

    real_replace = os.replace
    monkeypatch.setattr(store_module.os, "replace", killed)
    result = run("restore", backup, "--db", live)
    assert result.exit_code != 0
    with closing(sqlite3.connect(live)) as conn:
        assert conn.execute("SELECT value FROM meta WHERE key = 'db_id'").fetchone()[0] == before_id
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert user_count(live) == 2  # the old data, whole
    assert sorted(p.name for p in tmp_path.iterdir() if "restoring" in p.name) == []
    monkeypatch.setattr(store_module.os, "replace", real_replace)
    again = run("restore", backup, "--db", live)
    assert again.exit_code == 0, again.output
    # the backup's data (its audit log knows no `b`), with the users of now kept (`b` too)
    with closing(sqlite3.connect(live)) as conn:
        added = conn.execute("SELECT count(*) FROM audit WHERE action = 'user.add'").fetchone()
    assert added[0] == 1 and user_count(live) == 2
    with closing(sqlite3.connect(live)) as conn:
        assert conn.execute("SELECT value FROM meta WHERE key = 'db_id'").fetchone()[0] != before_id


# --- no output file is one of the database's own files -------------------------------------


def database_kept(db: Path) -> None:
    """The database still opens, with its user and its form."""
    assert user_count(db) == 1
    with closing(sqlite3.connect(db)) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("SELECT count(*) FROM forms").fetchone()[0] == 1


@pytest.mark.parametrize(
    "name",
    [
        lambda db: db,  # the database itself
        lambda db: db.parent / "." / db.name,  # spelt another way
        lambda db: db.with_name(db.name + "-wal"),  # not there while nothing runs: made so
        lambda db: db.with_name(db.name + "-shm"),
        lambda db: db.with_name(db.name + "-journal"),
        lambda db: db.with_name(db.name + ".lock"),
    ],
    ids=["itself", "dot", "wal", "shm", "journal", "lock"],
)
def test_export_never_writes_over_the_database(live: Path, name: Callable[[Path], Path]) -> None:
    """`--out coso.db` had renamed the CSV over the database, exit status 0: every user,
    record and audit entry gone, and a running server answering 503 to everything."""
    assert run("forms", "publish", SCHEMA, "--db", live).exit_code == 0
    out = name(live)
    refused(
        run("export", "hoa_giai", "--format", "csv", "--out", out, "--db", live),
        "a file of the database",
        "tệp của cơ sở dữ liệu",
    )
    database_kept(live)


def test_export_never_writes_over_the_database_under_another_name(
    live: Path, tmp_path: Path
) -> None:
    assert run("forms", "publish", SCHEMA, "--db", live).exit_code == 0
    (tmp_path / "link.db").symlink_to(live.name)
    (tmp_path / "hard.db").hardlink_to(live)
    for out in ("link.db", "hard.db"):
        refused(
            run("export", "hoa_giai", "--format", "csv", "--out", tmp_path / out, "--db", live),
            "a file of the database",
        )
    database_kept(live)
    # the database named by a link: its -wal is beside the file the link leads to (found by
    # a probe of the fix: a running server's log of writes was replaced)
    real = tmp_path / "r"
    real.mkdir()
    (real / "that.db").write_bytes(live.read_bytes())
    (tmp_path / "l.db").symlink_to(real / "that.db")
    for out in (real / "that.db-wal", real / "that.db.lock"):
        refused(
            run("export", "hoa_giai", "--format", "csv", "--out", out, "--db", tmp_path / "l.db"),
            "a file of the database",
        )
    # its half file (FILE.part) is the database: opened for writing, it was emptied
    part = tmp_path / "x.csv.part"
    live.rename(part)
    refused(
        run("export", "hoa_giai", "--format", "csv", "--out", tmp_path / "x.csv", "--db", part),
        "a file of the database",
    )
    database_kept(part)


def test_backup_never_deletes_the_database_as_its_leftover(live: Path, tmp_path: Path) -> None:
    """A backup removes FILE.part before it starts: with `--db FILE.part` that was the
    database."""
    assert run("forms", "publish", SCHEMA, "--db", live).exit_code == 0
    db = live.rename(tmp_path / "c.db.part")
    refused(run("backup", tmp_path / "c.db", "--db", db), "a file of the database")
    database_kept(db)
    assert not (tmp_path / "c.db").exists()
    refused(run("backup", db.with_name(db.name + "-wal"), "--db", db), "a file of the database")


def test_restore_never_deletes_a_backup_named_as_its_working_copy(
    live: Path, tmp_path: Path
) -> None:
    """A restore over coso.db works in coso.db.restoring, which it deletes before and after:
    a backup of that name was restored, then gone, the only copy the operator had."""
    assert run("forms", "publish", SCHEMA, "--db", live).exit_code == 0
    backup = tmp_path / "coso.db.restoring"
    assert run("backup", backup, "--db", live).exit_code == 0
    refused(run("restore", backup, "--db", live), "working copy", "đổi tên")
    assert backup.exists()
    database_kept(live)
    database_kept(backup)


def test_backup_never_writes_through_a_link_left_at_its_part_file(
    live: Path, tmp_path: Path
) -> None:
    """A FILE.part is taken over (a backup killed half-way left it): one that is a symbolic
    link was followed, and the file it named truncated and overwritten, by root too, in a
    folder others may write (found by a probe)."""
    victim = tmp_path / "victim.txt"
    victim.write_text("giữ nguyên / keep me")
    target = tmp_path / "nightly.db"
    Path(f"{target}.part").symlink_to(victim)
    refused(run("backup", target, "--db", live), "symbolic link", "liên kết tượng trưng")
    assert victim.read_text() == "giữ nguyên / keep me"
    assert not target.exists()


def test_export_never_writes_through_a_link_left_at_its_part_file(
    live: Path, tmp_path: Path
) -> None:
    assert run("forms", "publish", SCHEMA, "--db", live).exit_code == 0
    victim = tmp_path / "victim.txt"
    victim.write_text("giữ nguyên / keep me")
    target = tmp_path / "x.csv"
    Path(f"{target}.part").symlink_to(victim)
    refused(
        run("export", "hoa_giai", "--out", target, "--db", live),
        "symbolic link",
        "liên kết tượng trưng",
    )
    assert victim.read_text() == "giữ nguyên / keep me"
    assert not target.exists() and Path(f"{target}.part").is_symlink()  # left for its owner


def test_backup_to_an_empty_file_name_says_so(live: Path) -> None:
    """`coso backup "$DEST"` with DEST left empty said ". exists; choose a new file"."""
    for blank in ("", " ", "\t"):
        result = run("backup", blank, "--db", live)
        assert result.exit_code == 2, result.output
        assert "the file name is empty" in result.output and "tên tệp trống" in result.output


def test_a_file_argument_that_cannot_be_used_says_why_in_vietnamese_too(
    live: Path, tmp_path: Path
) -> None:
    """ "Giá trị không hợp lệ" (an invalid value) alone, the reason in English only."""
    refused(run("forms", "publish", tmp_path / "khong_co.yaml", "--db", live), "không có tệp")
    result = run("export", "hoa_giai", "--out", tmp_path, "--db", live)
    assert result.exit_code == 2 and "đó là một thư mục, không phải tệp" in result.output
