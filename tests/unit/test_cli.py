"""The `coso` command line, run in-process with click's runner on a real database file."""

import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from server.app import ROOT
from server.auth import token_hash
from server.catalog import schema_files
from server.cli import main


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_users_add_prints_the_token_last_and_stores_only_its_hash(tmp_path: Path) -> None:
    db = str(tmp_path / "c.db")
    code, out, err = run(
        "users", "add", "lan", "--role", "officer", "--area", "01.00070", "--db", db
    )
    assert code == 0, err
    token = out.strip().splitlines()[-1]
    assert len(token) >= 43  # 256 bits, url-safe base64
    assert "Phường Hoàn Kiếm, Thành phố Hà Nội" in out
    # who was made, in both languages (the role and "area" were English only)
    assert out.splitlines()[0].startswith("officer / cán bộ: lan — area / địa bàn 01.00070 ")
    assert f"/app/#token={token}" in out  # the setup link, token in the fragment
    assert "█" in err or "▀" in err or "▄" in err  # the QR code on standard error
    rows = sqlite3.connect(db).execute("SELECT token_hash FROM users").fetchall()
    assert rows == [(token_hash(token),)]
    assert token not in Path(db).read_bytes().decode("latin-1")


def test_users_add_warns_outside_the_registry_but_accepts(tmp_path: Path) -> None:
    db = str(tmp_path / "c.db")
    code, out, err = run(
        "users", "add", "pilot", "--role", "supervisor", "--area", "PILOT.X", "--db", db
    )
    assert code == 0
    assert "not an official area" in err
    assert out.strip().splitlines()[-1]


def test_users_add_warns_of_an_officer_of_a_province_but_accepts(tmp_path: Path) -> None:
    """An officer is normally bound to a commune: `--area 01` was taken with no word."""
    db = str(tmp_path / "c.db")
    code, out, err = run("users", "add", "lan", "--role", "officer", "--area", "01", "--db", db)
    assert code == 0, err
    assert "cán bộ thường gắn với một xã" in err and "normally bound to a commune" in err
    assert err.index("cảnh báo") < err.index("normally")  # Vietnamese first
    assert out.strip().splitlines()[-1]
    for role, area in (("officer", "01.00070"), ("supervisor", "01")):
        code, _, err = run("users", "add", "x", "--role", role, "--area", area, "--db", db)
        assert code == 0 and "commune" not in err, (role, err)


def test_users_add_refuses_a_malformed_area(tmp_path: Path) -> None:
    code, _, err = run(
        "users", "add", "x", "--role", "officer", "--area", "01..2", "--db", str(tmp_path / "c.db")
    )
    assert code != 0
    assert "empty segment" in err


def test_areas_search_without_diacritics() -> None:
    code, out, _ = run("areas", "search", "hoan kiem")
    assert code == 0
    assert out.splitlines()[0].split()[0] == "01.00070"
    assert "Phường Hoàn Kiếm, Thành phố Hà Nội" in out


def test_forms_publish_is_idempotent_and_reports_errors(tmp_path: Path) -> None:
    db = str(tmp_path / "c.db")
    assert run("users", "add", "a", "--role", "admin", "--area", "", "--db", db)[0] == 0
    files = [str(p) for p in schema_files(ROOT / "schemas")]
    code, out, _ = run("forms", "publish", *files, "--db", db)
    assert code == 0
    assert "hoa_giai v2 published" in out
    code, out, _ = run("forms", "publish", *files, "--db", db)
    assert code == 0
    assert "published /" not in out and "hoa_giai v2 unchanged" in out
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "form_id: x\ntitle: {vi: a, en: b}\n"
        "fields: [{name: a, type: select_one, label: {vi: a, en: a}}]\n"
    )
    code, _, err = run("forms", "publish", str(bad), "--db", db)
    assert code != 0
    assert "form_id" in err and "fields[0].choices" in err


def test_backup_and_restore_give_a_new_identity(tmp_path: Path) -> None:
    db, copy, restored = tmp_path / "c.db", tmp_path / "b.db", tmp_path / "r.db"
    run("users", "add", "a", "--role", "admin", "--area", "", "--db", str(db))
    assert run("backup", str(copy), "--db", str(db))[0] == 0
    assert run("backup", str(copy), "--db", str(db))[0] != 0  # never overwrites
    assert run("restore", str(copy), "--db", str(restored))[0] == 0
    ids = [
        sqlite3.connect(p).execute("SELECT value FROM meta").fetchone()[0] for p in (db, restored)
    ]
    assert ids[0] != ids[1]
    assert sqlite3.connect(restored).execute("SELECT count(*) FROM users").fetchone()[0] == 1


def test_a_restore_keeps_who_may_sign_in_now(tmp_path: Path) -> None:
    """A token disabled after the backup (a lost phone, a leaked link) stayed revoked only
    until a restore: the backup's users came back with the rest and it signed in again, with
    no word (found by a probe). A restore keeps the users of the database it replaces: their
    disabled flags, and the officers added since, whose phones keep working."""
    from server.store import Store

    db, copy = tmp_path / "c.db", tmp_path / "b.db"

    def add(name: str) -> str:
        code, out, _ = run("users", "add", name, "--role", "officer", "--area", "01.00070",
                           "--db", str(db))  # fmt: skip
        assert code == 0
        return out.strip().splitlines()[-1]

    tokens = {name: add(name) for name in ("Mất máy", "Mở lại", "Vẫn dùng", "Lộ mã")}
    assert run("users", "disable", "Mở lại", "--db", str(db))[0] == 0
    assert run("backup", str(copy), "--db", str(db))[0] == 0
    assert run("users", "disable", "Mất máy", "--db", str(db))[0] == 0
    assert run("users", "enable", "Mở lại", "--db", str(db))[0] == 0
    # a leaked setup link: a new token, the phone set up again with it (the backup's token
    # came back with a restore, and the new one was refused: found by a probe)
    code, out, _ = run("users", "new-token", "Lộ mã", "--db", str(db))
    assert code == 0
    new_token = out.strip().splitlines()[-1]
    add("Mới thêm")
    code, out, err = run("restore", str(copy), "--db", str(db))
    assert code == 0, err
    assert "users kept disabled / người dùng vẫn bị khóa: Mất máy" in out
    assert "users kept enabled / người dùng vẫn được mở lại: Mở lại" in out
    assert "Mới thêm" in out
    assert "keep the token given after the backup (the old one is still refused)" in out
    hashes = {r[0] for r in sqlite3.connect(db).execute("SELECT token_hash FROM users")}
    assert token_hash(new_token) in hashes
    assert token_hash(tokens["Lộ mã"]) not in hashes
    store = Store(db)
    try:
        [entry] = [e for e in store.audit_page(0, 1000)[0] if e[5] == "restore.users_kept"]
    finally:
        store.close()
    assert sqlite3.connect(db).execute(
        "SELECT name, disabled FROM users ORDER BY id"
    ).fetchall() == [("Mất máy", 1), ("Mở lại", 0), ("Vẫn dùng", 0), ("Lộ mã", 0), ("Mới thêm", 0)]
    assert "Mất máy" in entry[7] and "Mới thêm" in entry[7]


def test_serve_demo_prints_setup_links_for_the_address_phones_use(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Behind an HTTPS proxy the server listens on one address and phones use another:
    `--url` (or COSO_URL) is what the printed setup link carries."""
    from server.cli_serve import welcome
    from server.store import Store

    db = tmp_path / "coso.db"
    store = Store(db)
    try:
        welcome(store, str(db), "https://coso.example.vn", ROOT / "schemas", demo=True)
    finally:
        store.close()
    out = capsys.readouterr().out
    assert "https://coso.example.vn/app/#token=" in out
    assert "localhost" not in out


def _form(form_id: str, field_type: str = "text", label: str = "Tên") -> str:
    return (
        f"form_id: {form_id}\ntitle: {{vi: Thử, en: Test}}\n"
        f"fields: [{{name: ten, type: {field_type}, label: {{vi: {label}, en: Name}}}}]\n"
    )


def test_forms_publish_keeps_the_order_given_and_names_each_file(tmp_path: Path) -> None:
    """`publish old.yaml new.yaml` makes old v1 and new v2 whatever their names: sorting them
    made the older file the latest version, and the output did not say which file was which."""
    db = str(tmp_path / "c.db")
    run("users", "add", "a", "--role", "admin", "--area", "", "--db", db)
    old, new = tmp_path / "z_old.yaml", tmp_path / "a_new.yaml"
    old.write_text(_form("thu"), "utf-8")
    new.write_text(_form("thu", label="Họ và tên"), "utf-8")
    code, out, _ = run("forms", "publish", str(old), str(new), "--db", db)
    assert code == 0
    assert out.splitlines() == [
        line
        for line in out.splitlines()
        if line.startswith(("z_old.yaml: thu v1 published", "a_new.yaml: thu v2 published"))
    ]
    assert len(out.splitlines()) == 2


def test_forms_publish_checks_every_file_before_publishing_any(tmp_path: Path) -> None:
    db = str(tmp_path / "c.db")
    run("users", "add", "a", "--role", "admin", "--area", "", "--db", db)
    good, bad = tmp_path / "good.yaml", tmp_path / "bad.yaml"
    good.write_text(_form("thu"), "utf-8")
    bad.write_text("form_id: [", "utf-8")
    code, _, err = run("forms", "publish", str(good), str(bad), "--db", db)
    assert code == 1
    assert "nothing published" in err and "chưa xuất bản gì" in err
    assert ": : " not in err  # a whole-file error has no empty path
    assert all(" / " in line for line in err.splitlines() if str(bad) in line)  # bilingual
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM forms").fetchone()[0] == 0


def test_forms_publish_says_what_was_published_before_a_refused_change(tmp_path: Path) -> None:
    db = str(tmp_path / "c.db")
    run("users", "add", "a", "--role", "admin", "--area", "", "--db", db)
    v1, v2 = tmp_path / "v1.yaml", tmp_path / "v2.yaml"
    v1.write_text(_form("thu"), "utf-8")
    v2.write_text(_form("thu", field_type="integer"), "utf-8")  # a type change: refused
    code, out, err = run("forms", "publish", str(v1), str(v2), "--db", db)
    assert code == 1
    assert "v1.yaml: thu v1 published" in out
    assert "fields[0]" in err or "ten" in err
    assert "v2.yaml: not published / chưa xuất bản" in err


def test_serve_refuses_a_schemas_directory_that_does_not_exist(tmp_path: Path) -> None:
    code, _, err = run(
        "serve", "--schemas", str(tmp_path / "khong-co"), "--db", str(tmp_path / "c.db")
    )
    assert code == 2
    assert "does not exist" in err
    assert not (tmp_path / "c.db").exists()


def test_forms_publish_refuses_a_file_past_the_body_limit_without_reading_it_all(
    tmp_path: Path,
) -> None:
    """/dev/zero never ends: it is read up to the API's 2 MiB limit for a form, then refused
    (the command took 10 MiB, the API 2: a file published by one was refused by the other)."""
    db = str(tmp_path / "c.db")
    run("users", "add", "a", "--role", "admin", "--area", "", "--db", db)
    good = tmp_path / "good.yaml"
    good.write_text(_form("thu"), "utf-8")
    code, _, err = run("forms", "publish", str(good), "/dev/zero", "--db", db)
    assert code == 1
    assert "larger than 2 MiB" in err and "lớn hơn 2 MiB" in err
    assert "nothing published" in err
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM forms").fetchone()[0] == 0


def test_forms_publish_puts_numbered_files_in_the_order_of_their_numbers(tmp_path: Path) -> None:
    """`coso forms publish schemas/*` with ten versions or more: the shell gives v1, v10, v11,
    v2, ..., v9, and v9 was published last, the latest, without f10 and f11 (found by a
    probe). Files named FORM.vN go in the order of N; a version other than the file's N is
    said."""
    db, other = str(tmp_path / "c.db"), str(tmp_path / "d.db")
    for name in (db, other):
        run("users", "add", "a", "--role", "admin", "--area", "", "--db", name)
    for n in range(1, 12):
        fields = ", ".join(
            f"{{name: f{i}, type: text, label: {{vi: Trường {i}, en: Field {i}}}}}"
            for i in range(1, n + 1)
        )
        (tmp_path / f"vv.v{n}.yaml").write_text(
            f"form_id: vv\ntitle: {{vi: Phiên bản, en: Versions}}\nfields: [{fields}]\n", "utf-8"
        )
    shell = sorted(str(p) for p in tmp_path.glob("vv.v*.yaml"))  # what `vv.v*` expands to
    assert shell[:3] == [str(tmp_path / f"vv.v{n}.yaml") for n in (1, 10, 11)]
    code, out, err = run("forms", "publish", *shell, "--db", db)
    assert code == 0, err
    assert [line.split(":")[0] for line in out.splitlines()] == [
        f"vv.v{n}.yaml" for n in range(1, 12)
    ]
    assert "vv.v11.yaml: vv v11 published" in out and "lưu ý" not in err
    with sqlite3.connect(db) as conn:
        latest = conn.execute("SELECT definition FROM forms ORDER BY version DESC").fetchone()[0]
    assert '"f11"' in latest
    # an unnumbered file keeps its place: after the numbered ones it is the latest (it was
    # put ahead of them all, as v1 under the shipped ones: found by a probe)
    local = tmp_path / "vv_local.yaml"
    local.write_text(
        (tmp_path / "vv.v11.yaml").read_text("utf-8").replace("Versions", "Local"), "utf-8"
    )
    third = str(tmp_path / "e.db")
    run("users", "add", "a", "--role", "admin", "--area", "", "--db", third)
    order = [str(tmp_path / "vv.v10.yaml"), str(local), str(tmp_path / "vv.v2.yaml")]
    code, out, _ = run("forms", "publish", str(tmp_path / "vv.v1.yaml"), *order, "--db", third)
    assert code == 0
    assert [line.split(":")[0] for line in out.splitlines()] == [
        "vv.v1.yaml",
        "vv.v2.yaml",
        "vv_local.yaml",
        "vv.v10.yaml",
    ]
    # a database whose versions are numbered otherwise: the file's N is not the version
    code, _, err = run("forms", "publish", str(tmp_path / "vv.v3.yaml"), "--db", other)
    assert code == 0
    assert "the file says v3 but became version 1" in err and "tệp ghi v3" in err


def test_forms_publish_says_an_earlier_definition_again_publishes_nothing(tmp_path: Path) -> None:
    """An admin undoing a mistaken v3 by publishing v2's file again got "v2 unchanged" and took
    it as done; the latest stayed v3. Publishing a folder again must change nothing, so the
    rule stays; the command says that the definition is not the latest, and what to do."""
    db = str(tmp_path / "c.db")
    run("users", "add", "a", "--role", "admin", "--area", "", "--db", db)
    files = []
    for n, label in enumerate(("Tên", "Họ và tên", "Tên gọi"), start=1):
        path = tmp_path / f"ban_{'abc'[n - 1]}.yaml"
        path.write_text(_form("thu", label=label), "utf-8")
        files.append(str(path))
    assert run("forms", "publish", *files, "--db", db)[0] == 0
    code, out, err = run("forms", "publish", files[1], "--db", db)
    assert code == 0 and "thu v2 unchanged" in out
    assert "identical to version 2, not the latest (3)" in err
    assert "giống phiên bản 2, không phải bản mới nhất (3)" in err
    # the latest again, or a folder of numbered files again: nothing to say
    assert run("forms", "publish", files[2], "--db", db)[2] == ""


def test_serve_publishes_no_form_of_a_folder_with_a_refused_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A refused v2 stopped `coso serve` after v1 was published: the next start, with the file
    fixed, found forms, took the database for one in use and never published the rest (found
    by a probe). The folder is tried first; a refusal publishes nothing."""
    import uvicorn

    monkeypatch.setattr(uvicorn.Server, "run", lambda self, sockets=None: None)
    schemas, db = tmp_path / "s", tmp_path / "c.db"
    schemas.mkdir()
    (schemas / "vv.v1.yaml").write_text(_form("vv"), "utf-8")
    (schemas / "vv.v2.yaml").write_text(_form("vv", field_type="integer"), "utf-8")
    (schemas / "zz.v1.yaml").write_text(_form("zz"), "utf-8")
    serve = ("serve", "--schemas", str(schemas), "--db", str(db), "--port", "18999")
    code, _, err = run(*serve)
    assert code == 1 and "vv.v2.yaml: not published / chưa xuất bản" in err
    assert "no form of" in err and "chưa xuất bản biểu mẫu nào" in err
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM forms").fetchone()[0] == 0
    (schemas / "vv.v2.yaml").write_text(_form("vv", label="Họ tên"), "utf-8")
    code, _, err = run(*serve)
    assert code == 0, err
    with sqlite3.connect(db) as conn:
        published = conn.execute("SELECT form_id, version FROM forms ORDER BY 1, 2").fetchall()
    assert published == [("vv", 1), ("vv", 2), ("zz", 1)]


def test_ctrl_c_says_what_became_of_the_work_in_both_languages(tmp_path: Path) -> None:
    """Ctrl-C said only click's "Aborted!", in English, after a publish that had been done
    (found by a probe). Here a publish waits on a FIFO no one writes, and is stopped."""
    import os
    import signal
    import subprocess
    import sys
    import time

    db, fifo = tmp_path / "coso.db", tmp_path / "form.yaml"
    assert run("users", "add", "a", "--role", "admin", "--area", "", "--db", str(db))[0] == 0
    os.mkfifo(fifo)

    def as_in_a_terminal() -> None:  # the test process may ignore SIGINT (test_export.py)
        signal.signal(signal.SIGINT, signal.SIG_DFL)

    coso = str(Path(sys.executable).with_name("coso"))
    proc = subprocess.Popen(
        [coso, "forms", "publish", str(fifo), "--db", str(db)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        preexec_fn=as_in_a_terminal,
    )
    time.sleep(1.5)  # started, and waiting for the file
    assert proc.poll() is None
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    said = err.decode()
    assert proc.returncode == 130, said
    assert "stopped (Ctrl-C): what was already saved is kept" in said
    assert "đã dừng" in said
    assert "Aborted!" not in said and "Traceback" not in said
