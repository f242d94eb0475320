"""A backup is read from where operators keep them: a read-only USB stick or share, a folder
of another user. SQLite cannot read a WAL-mode file where it cannot make the file's `-shm`;
`coso backup` writes a rollback-journal file, and `coso restore` reads an older WAL-mode
backup all the same."""

import os
import shutil
import sqlite3
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest

from tests.support import coso_command
from tests.support import run_cli as run


def journal_mode_bytes(path: Path) -> bytes:
    """Bytes 18-19 of a SQLite file's header: 1 1 for a rollback journal, 2 2 for WAL."""
    return path.read_bytes()[18:20]


def test_a_backup_is_a_rollback_journal_file(live: Path, tmp_path: Path) -> None:
    backup = tmp_path / "b.db"
    assert run("backup", backup, "--db", live).exit_code == 0
    assert journal_mode_bytes(backup) == b"\x01\x01"
    assert not Path(f"{backup}-wal").exists()


@pytest.fixture
def shelf() -> Iterator[Path]:
    """A folder outside pytest's private ones, so that another user can reach it."""
    path = Path(tempfile.mkdtemp(prefix="coso-shelf-", dir="/tmp"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path)


def as_other_user(*args: str | Path) -> subprocess.CompletedProcess[str]:
    """`coso ARGS` as a user who cannot write the backup's folder: `nobody` when the tests run
    as root (whom file modes do not stop), this user otherwise."""
    cmd = [*coso_command(), *map(str, args)]
    if os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.skip("running as root without setpriv")
        cmd = [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", *cmd]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False)


@pytest.mark.parametrize("wal", [False, True], ids=["backup", "older-wal-backup"])
def test_restore_reads_a_backup_from_a_folder_it_cannot_write(
    live: Path, shelf: Path, wal: bool
) -> None:
    media = shelf / "usb"
    media.mkdir()
    backup = media / "b.db"
    assert run("backup", backup, "--db", live).exit_code == 0
    if wal:  # as `coso backup` wrote them before
        with closing(sqlite3.connect(backup)) as conn:
            conn.execute("PRAGMA journal_mode = WAL")
    backup.chmod(0o444)
    media.chmod(0o555)
    target = shelf / "new"
    target.mkdir(mode=0o777)
    target.chmod(0o777)
    done = as_other_user("restore", backup, "--db", target / "coso.db")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "restored" in done.stdout
    with closing(sqlite3.connect(target / "coso.db")) as conn:
        assert conn.execute("SELECT name FROM users").fetchall() == [("a",)]
    assert sorted(p.name for p in media.iterdir()) == ["b.db"]
