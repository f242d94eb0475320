"""A command on a database whose disk is full (of bytes or of files), on a read-only medium,
or that the account running it may not write: SQLite makes `-shm` and `-wal` beside the
database as it opens it, and said only "disk I/O error", "unable to open database file" or
"attempt to write a readonly database"; `serve` and `restore` said "Read-only file system /
lỗi tệp hoặc hệ thống" of their lock file, and `restore` called a healthy database on a full
disk "not a SQLite database". The operator is told what is wrong and what to do, in both
languages, and nothing of the database changes. Real disks: small tmpfs mounts and a
read-only bind mount, made in a user and mount namespace of the test's own (no root needed)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

COSO = str(Path(sys.executable).with_name("coso"))

# `refuse NAME COMMAND...`: run coso, its error line appended to $OUT/said, and "ran: NAME"
# there if it was not refused.
REFUSE = """
refuse() {
    name="$1"; shift
    timeout 20 "$COSO" "$@" >/dev/null 2>>"$OUT/said" && echo "ran: $name" >> "$OUT/said"
    true
}
"""

FULL = """
set -e
mount -t tmpfs -o size=1m tmpfs "$DISK"
db="$DISK/coso.db"
"$COSO" users add first --role admin --area '' --db "$db" >/dev/null
"$COSO" backup --db "$db" "$OUT/backup.db" >/dev/null
sha256sum "$db" > "$OUT/before"
head -c 2000000 /dev/zero > "$DISK/filler" 2>/dev/null || true
refuse list users list --db "$db"
refuse add users add second --role admin --area '' --db "$db"
refuse serve serve --port 65011 --db "$db"
refuse restore restore "$OUT/backup.db" --db "$db"
rm "$DISK/filler"
sha256sum "$db" > "$OUT/after"
"$COSO" users list --db "$db" > "$OUT/users"
"""

NO_FILES_LEFT = """
set -e
mount -t tmpfs -o size=4m,nr_inodes=6 tmpfs "$DISK"
db="$DISK/coso.db"
"$COSO" users add first --role admin --area '' --db "$db" >/dev/null
sha256sum "$db" > "$OUT/before"
i=0; while touch "$DISK/f$i" 2>/dev/null; do i=$((i+1)); done
refuse list users list --db "$db"
refuse new users add second --role admin --area '' --db "$DISK/new.db"
rm -f "$DISK"/f*
sha256sum "$db" > "$OUT/after"
"$COSO" users list --db "$db" > "$OUT/users"
"""

READ_ONLY = """
set -e
mkdir "$DISK/rw" "$DISK/ro"
"$COSO" users add first --role admin --area '' --db "$DISK/rw/coso.db" >/dev/null
"$COSO" backup --db "$DISK/rw/coso.db" "$DISK/rw/copy.db" >/dev/null
"$COSO" backup --db "$DISK/rw/coso.db" "$OUT/backup.db" >/dev/null
sha256sum "$DISK/rw/coso.db" > "$OUT/before"
mount --bind "$DISK/rw" "$DISK/ro"
mount -o remount,ro,bind "$DISK/ro"
refuse list users list --db "$DISK/ro/coso.db"
refuse copy users list --db "$DISK/ro/copy.db"
refuse serve serve --port 65012 --db "$DISK/ro/coso.db"
refuse restore restore "$OUT/backup.db" --db "$DISK/ro/coso.db"
sha256sum "$DISK/rw/coso.db" > "$OUT/after"
"$COSO" users list --db "$DISK/rw/coso.db" > "$OUT/users"
"""


def in_namespace(script: str, tmp_path: Path) -> list[str]:
    """Run `script` (sh) as root of a user and mount namespace of its own, with $DISK an empty
    folder, $OUT one for what it writes, $COSO the command; the lines it said. The database
    is the same before and after, and still opens."""
    unshare = shutil.which("unshare")
    probe = [unshare or "unshare", "--user", "--map-root-user", "--mount", "true"]
    if unshare is None or subprocess.run(probe, capture_output=True).returncode != 0:
        pytest.skip("no user and mount namespaces here to make a disk in")
    disk, out = tmp_path / "disk", tmp_path / "out"
    disk.mkdir()
    out.mkdir()
    done = subprocess.run(
        [*probe[:-1], "sh", "-c", REFUSE + script],
        env={"DISK": str(disk), "OUT": str(out), "COSO": COSO, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr
    assert (out / "before").read_text() == (out / "after").read_text()
    assert "first" in (out / "users").read_text()
    return (out / "said").read_text().splitlines()


def test_a_command_on_a_full_disk_says_so_and_changes_nothing(tmp_path: Path) -> None:
    said = in_namespace(FULL, tmp_path)
    assert len(said) == 4, said  # each of the four refused, none ran
    for line in said:
        assert "its disk is full" in line and "ổ đĩa đã đầy" in line, line
        assert "disk I/O error" not in line and "not a SQLite database" not in line


def test_a_disk_with_no_files_left_is_full_too(tmp_path: Path) -> None:
    """Room in bytes, none in files (inodes): "unable to open database file", and a new
    database there was called read-only."""
    said = in_namespace(NO_FILES_LEFT, tmp_path)
    assert len(said) == 2, said
    for line in said:
        assert "its disk is full" in line and "ổ đĩa đã đầy" in line, line


def test_a_database_on_a_read_only_medium_is_refused_saying_what_to_do(tmp_path: Path) -> None:
    """The server's own database (WAL) and a backup (rollback journal), both on a read-only
    mount: each command refused, saying it is read-only and to copy it somewhere writable."""
    said = in_namespace(READ_ONLY, tmp_path)
    assert len(said) == 4, said
    for line in said:
        assert "read-only medium" in line and "chỉ cho đọc" in line, line
        assert "copy it to a folder you can write to" in line


def test_a_database_this_account_may_not_write_says_whose_it_is(tmp_path: Path) -> None:
    """Run as the wrong account, a command was told the database was read-only and to copy it:
    `users disable` for a lost phone would have disabled it in the copy (found by a probe).
    It is told which account may not write what, and to run as the server's."""
    if os.geteuid() == 0:  # root writes anything: the command runs as nobody
        if shutil.which("setpriv") is None:
            pytest.skip("no setpriv to run a command as another account")
        as_other = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
        folder = Path(tempfile.mkdtemp(dir="/tmp"))
        folder.chmod(0o755)  # nobody may read it, not write it
    else:  # the folder and the file made read-only to this account
        as_other = []
        folder = tmp_path / "db"
        folder.mkdir()
    try:
        db = folder / "coso.db"
        made = subprocess.run(
            [COSO, "users", "add", "first", "--role", "admin", "--area", "", "--db", str(db)],
            capture_output=True,
            timeout=60,
        )
        assert made.returncode == 0, made.stderr
        if not as_other:
            db.chmod(0o444)
            folder.chmod(0o555)
        before = db.read_bytes()
        for args in (["users", "list"], ["users", "disable", "first"]):
            done = subprocess.run(
                [*as_other, COSO, *args, "--db", str(db)],
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert done.returncode == 1, done.stdout
            assert "may not write" in done.stderr and "không có quyền ghi" in done.stderr
            assert "copy it" not in done.stderr
        assert db.read_bytes() == before
    finally:
        folder.chmod(0o755)
        shutil.rmtree(folder, ignore_errors=True)


OUTPUTS = """
set -e
mkdir "$OUT/db"
db="$OUT/db/coso.db"
"$COSO" users add first --role admin --area '' --db "$db" >/dev/null
"$COSO" forms publish SCHEMA --db "$db" >/dev/null
sha256sum "$db" > "$OUT/before"
mount -t tmpfs -o size=1m tmpfs "$DISK"
head -c 2000000 /dev/zero > "$DISK/filler" 2>/dev/null || true
refuse full export hoa_giai --out "$DISK/x.csv" --db "$db"
rm "$DISK/filler"
mount -o remount,ro "$DISK"
refuse read-only export hoa_giai --out "$DISK/x.csv" --db "$db"
sha256sum "$db" > "$OUT/after"
"$COSO" users list --db "$db" > "$OUT/users"
"""


def test_an_export_to_a_full_or_read_only_disk_says_which_in_vietnamese_too(
    tmp_path: Path,
) -> None:
    """The Vietnamese half was "lỗi tệp hoặc hệ thống" (a file or system error) whatever the
    error: a reader of Vietnamese alone did not learn the disk was full, or read-only (found
    by a probe)."""
    schema = Path(__file__).parents[2] / "schemas" / "hoa_giai.v1.yaml"
    said = in_namespace(OUTPUTS.replace("SCHEMA", f"'{schema}'"), tmp_path)
    assert len(said) == 2, said
    full, read_only = said
    assert "No space left on device" in full and "ổ đĩa đã đầy" in full, full
    assert "Read-only file system" in read_only and "ổ đĩa chỉ đọc" in read_only, read_only
