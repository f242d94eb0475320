"""A command on a database whose disk is full, or on a read-only medium: SQLite makes `-shm`
and `-wal` beside it as it opens it, and said only "disk I/O error", "unable to open database
file" or "attempt to write a readonly database". The operator is told what is wrong and what
to do, and nothing of the database changes. Real disks: a 1 MiB tmpfs and a read-only bind
mount, made in a user and mount namespace of the test's own (no root needed)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = """
set -e
mount -t tmpfs -o size=1m tmpfs "$DISK"
"$COSO" users add first --role admin --area '' --db "$DISK/coso.db" >/dev/null
sha256sum "$DISK/coso.db" > "$OUT/before"
head -c 2000000 /dev/zero > "$DISK/filler" 2>/dev/null || true
db="$DISK/coso.db"
"$COSO" users list --db "$db" >/dev/null 2>>"$OUT/said" && echo "ran: list" >> "$OUT/said"
"$COSO" users add second --role admin --area '' --db "$db" >/dev/null 2>>"$OUT/said" \
    && echo "ran: add" >> "$OUT/said"
timeout 20 "$COSO" serve --port 65011 --db "$db" >/dev/null 2>>"$OUT/said" \
    && echo "ran: serve" >> "$OUT/said"
rm "$DISK/filler"
sha256sum "$DISK/coso.db" > "$OUT/after"
"$COSO" users list --db "$DISK/coso.db" > "$OUT/users"
"""


def in_namespace(script: str, tmp_path: Path) -> Path:
    """Run `script` (sh) as root of a user and mount namespace of its own, with $DISK an empty
    folder, $OUT one for what it writes, $COSO the command; the folder $OUT."""
    unshare = shutil.which("unshare")
    probe = [unshare or "unshare", "--user", "--map-root-user", "--mount", "true"]
    if unshare is None or subprocess.run(probe, capture_output=True).returncode != 0:
        pytest.skip("no user and mount namespaces here to make a disk in")
    disk, out = tmp_path / "disk", tmp_path / "out"
    disk.mkdir()
    out.mkdir()
    coso = str(Path(sys.executable).with_name("coso"))
    done = subprocess.run(
        [*probe[:-1], "sh", "-c", script],
        env={"DISK": str(disk), "OUT": str(out), "COSO": coso, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return out


def test_a_command_on_a_full_disk_says_so_and_changes_nothing(tmp_path: Path) -> None:
    out = in_namespace(SCRIPT, tmp_path)
    said = (out / "said").read_text().splitlines()
    assert len(said) == 3, said  # each of the three refused, none ran
    for line in said:
        assert "its disk is full" in line and "ổ đĩa đã đầy" in line, line
        assert "disk I/O error" not in line
    assert (out / "before").read_text() == (out / "after").read_text()
    assert "first" in (out / "users").read_text()


READ_ONLY = """
set -e
mkdir "$DISK/rw" "$DISK/ro"
"$COSO" users add first --role admin --area '' --db "$DISK/rw/coso.db" >/dev/null
"$COSO" backup --db "$DISK/rw/coso.db" "$DISK/rw/copy.db" >/dev/null
mount --bind "$DISK/rw" "$DISK/ro"
mount -o remount,ro,bind "$DISK/ro"
for db in coso copy; do
    "$COSO" users list --db "$DISK/ro/$db.db" >/dev/null 2>>"$OUT/said" \\
        && echo "ran: $db" >> "$OUT/said"
done
true
"""


def test_a_database_on_a_read_only_medium_is_refused_saying_what_to_do(tmp_path: Path) -> None:
    """The server's own database (WAL) and a backup (rollback journal), both on a read-only
    mount: each refused, saying it is read-only and to copy it somewhere writable."""
    said = (in_namespace(READ_ONLY, tmp_path) / "said").read_text().splitlines()
    assert len(said) == 2, said
    for line in said:
        assert "is read-only" in line and "chỉ cho đọc" in line, line
        assert "copy it to a folder you can write to" in line
