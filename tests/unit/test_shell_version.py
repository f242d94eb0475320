"""The app's shell reaches phones only when its service worker's VERSION changes (sw.js is
compared byte for byte, the shell served from its cache first): a change to a shell file
with VERSION left as it was stays off every installed phone until some later change (found by
an upgrade probe: three such changes in the history). Each VERSION is listed once in
`shell_versions.txt` beside this test, with the digest of the shell it was given to."""

from __future__ import annotations

import hashlib
import re

from tests.support import ROOT

APP = ROOT / "client_forms"
LISTED = ROOT / "tests" / "unit" / "shell_versions.txt"


def shell() -> tuple[str, str]:
    """(VERSION, sha256 of the shell files sw.js caches, with their names, in its order)."""
    sw = (APP / "sw.js").read_text("utf-8")
    version = re.search(r"const VERSION = '([^']+)'", sw)
    files = re.search(r"const SHELL = \[(.*?)\];", sw, re.S)
    assert version and files
    names = [n for n in re.findall(r"'([^']+)'", files[1]) if n != "./"]
    digest = hashlib.sha256()
    for name in names:
        digest.update(name.encode() + b"\0" + (APP / name).read_bytes() + b"\0")
    return version[1], digest.hexdigest()


def test_every_change_of_the_shell_has_a_version_of_its_own() -> None:
    version, digest = shell()
    listed = [line.split() for line in LISTED.read_text("utf-8").splitlines() if line.strip()]
    versions = [v for v, _ in listed]
    assert len(set(versions)) == len(versions), "a VERSION listed twice"
    assert len({d for _, d in listed}) == len(listed), "one shell listed under two versions"
    given = dict(listed).get(version)
    assert given is not None, f"add `{version} {digest}` to {LISTED.name}"
    assert given == digest, (
        f"the shell changed since {version} was given to it: raise VERSION in client_forms/sw.js"
        f" and add `<new version> {digest}` to {LISTED.name}"
    )
