"""Browser tests: Debian's Chromium (never a downloaded one) against a real `coso serve`.

Each test gets its own server subprocess on a free port with a fresh database, and phones
(browser contexts) set up from the officer's setup link, as on a real phone.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.support import cli_add_user, run_cli, running_server

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "artifacts" / "screenshots"
AREA = "01.00070"  # Phường Hoàn Kiếm, Hà Nội


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    if not Path(CHROMIUM).exists():
        reason = f"{CHROMIUM} is missing (apt-get install chromium); no browser is downloaded"
        if os.environ.get("COSO_REQUIRE_BROWSER") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": CHROMIUM_ARGS}


@dataclass
class Server:
    url: str
    db: Path
    log: Path
    proc: subprocess.Popen[bytes] = field(repr=False)

    def add_user(self, name: str, role: str = "officer", area: str = AREA) -> str:
        """`coso users add`, with this server's address in the phone setup link; the token."""
        return cli_add_user(self.db, name, role, area, url=self.url)

    def api(self, token: str, path: str, body: Any = None) -> tuple[int, Any]:
        """GET (or POST `body`) on the API as the holder of `token`: (status, JSON)."""
        res = httpx.request(
            "GET" if body is None else "POST",
            f"{self.url}/api/v1{path}",
            json=body,
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        )
        return res.status_code, res.json() if res.content else None

    @contextlib.contextmanager
    def restored(self, backup: Path, *, new_machine: bool = False) -> Iterator[None]:
        """The operator stops the server, restores `backup` (on a new machine: no database
        there before, whose users a restore would keep) and starts it again on its port."""
        self.proc.terminate()
        self.proc.wait(10)
        if new_machine:
            for end in ("", "-wal", "-shm"):
                Path(f"{self.db}{end}").unlink(missing_ok=True)
        assert run_cli("restore", backup, "--db", self.db).exit_code == 0
        port = int(self.url.rsplit(":", 1)[1])
        with running_server(self.db, self.log, port=port):
            yield

    def records(self, token: str, form_id: str) -> list[dict[str, Any]]:
        status, page = self.api(token, f"/records?form_id={form_id}&limit=1000")
        assert status == 200, page
        return page["records"]


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    with running_server(tmp_path / "coso.db", tmp_path / "server.log") as srv:
        yield Server(srv.url, srv.db, srv.log, srv.proc)


@contextlib.contextmanager
def page_at(browser: Browser, origin: str, scripts: dict[str, str] | None = None) -> Iterator[Page]:
    """A blank page at `origin`, served by the test itself (an origin for modules and
    Workers), with `scripts` (path -> JavaScript) served beside it."""
    context = browser.new_context()
    page = context.new_page()

    def serve(source: str) -> Any:  # a handler of one argument: Playwright passes the request
        return lambda route: route.fulfill(body=source, status=200, content_type="text/javascript")

    for path, source in (scripts or {}).items():
        page.route(f"{origin}{path}", serve(source))
    page.route(f"{origin}/", lambda route: route.fulfill(body="<!doctype html>", status=200))
    page.goto(f"{origin}/")
    try:
        yield page
    finally:
        context.close()


def pushed_body(request: Any) -> Any:
    """The JSON a request of the app's carried: its pushes go gzipped (1 kB and up)."""
    body = request.post_data_buffer or b""
    if request.headers.get("content-encoding") == "gzip":
        body = gzip.decompress(body)
    return json.loads(body)


# The phone's store made slow, as on a phone whose flash storage is busy: a transaction that
# makes one of `ops` ("get", "getAll", "put", "delete") on `store` completes `ms` later, until
# `slow_store(page, None)`. Patched in the page, under the app; races are then played in order.
SLOW_STORE = """(slow) => {
  window.slowStore = slow;
  if (window.slowPatched) return;
  window.slowPatched = true;
  const complete = Object.getOwnPropertyDescriptor(IDBTransaction.prototype, 'oncomplete');
  Object.defineProperty(IDBTransaction.prototype, 'oncomplete', {
    configurable: true,
    get() { return complete.get.call(this); },
    set(fn) {
      const late = (e) => setTimeout(() => fn.call(this, e), this.slow);
      complete.set.call(this, fn && ((e) => (this.slow ? late(e) : fn.call(this, e))));
    },
  });
  for (const op of ['get', 'getAll', 'put', 'delete']) {
    const real = IDBObjectStore.prototype[op];
    IDBObjectStore.prototype[op] = function (...args) {
      const s = window.slowStore;
      if (s && this.name === s.store && s.ops.includes(op)) this.transaction.slow = s.ms;
      return real.apply(this, args);
    };
  }
}"""


def slow_store(page: Page, store: str | None, ops: tuple[str, ...] = (), ms: int = 0) -> None:
    """See SLOW_STORE; `store=None` makes the store fast again."""
    page.evaluate(SLOW_STORE, store and {"store": store, "ops": list(ops), "ms": ms})


def expect_sent(page: Page, timeout: float | None = None) -> None:
    """Wait until the status bar says the outbox is empty: everything saved has gone out."""
    expect(page.locator("#st-waiting")).to_have_text("Chờ gửi / Waiting: 0", timeout=timeout)


class Phone:
    """One officer's phone: a browser context with the app set up from the setup link."""

    def __init__(self, context: BrowserContext, server: Server, token: str) -> None:
        self.context = context
        self.server = server
        self.token = token
        self.page: Page = context.new_page()

    def setup(self) -> None:
        self.page.goto(f"{self.server.url}/app/#token={self.token}")
        expect(self.page.locator("#form-list a").first).to_be_visible(timeout=20_000)
        assert "token" not in self.page.url
        # Offline reloads need the service worker installed (shell cached) first.
        self.page.evaluate("navigator.serviceWorker.ready.then(() => true)")

    def offline(self, value: bool = True) -> None:
        self.context.set_offline(value)

    def js(self, expression: str, arg: Any = None) -> Any:
        """Evaluate with the app's own IndexedDB module as `db`."""
        module = "new URL('db.js', location.href).href"
        return self.page.evaluate(
            f"async (arg) => {{ const db = await import({module}); return ({expression}); }}", arg
        )

    def outbox(self) -> list[dict[str, Any]]:
        return self.js("await db.all('outbox')")

    def entries(self) -> list[dict[str, Any]]:
        """Everything saved on the phone, waiting or sent (an entry is in one store or the
        other: it moves in one transaction), in the order saved."""
        # (read one store, then the other: an entry the sync moves between the two reads is
        # in both, and is kept once, as it is in `sent`)
        both = "[...await db.all('outbox'), ...await db.all('sent')]"
        once = f"[...new Map({both}.map((e) => [e.id, e])).values()]"
        return self.js(f"{once}.sort((a, b) => (a.id < b.id ? -1 : 1))")

    def wait_outbox_empty(self, seconds: float = 20) -> None:
        """Until everything in the outbox has gone out. After fixing a rejected entry, the
        status bar's "Waiting: 0" holds before the save as well (a rejected entry does not
        wait), so it cannot say that the fix has gone."""
        for _ in range(int(seconds * 5)):
            if not self.outbox():
                return
            self.page.wait_for_timeout(200)
        raise AssertionError(f"the outbox still holds {self.outbox()}")

    def idle(self) -> None:
        """Until no sync runs, nor starts within 300 ms (a sync asked for while one ran
        starts as soon as it ends)."""
        last = None
        for _ in range(100):
            expect(self.page.locator("#sync-btn")).to_be_enabled(timeout=20_000)
            done = self.page.evaluate("document.body.dataset.syncs ?? ''")
            if done == last:
                return
            last = done
            self.page.wait_for_timeout(300)
        raise AssertionError("the phone never stopped syncing")

    def new(self, form_id: str) -> None:
        self.page.goto(f"{self.server.url}/app/#/")
        self.page.locator(f'#form-list a[href="#/new/{form_id}"]').click()
        expect(self.page.locator("#entry")).to_be_visible()

    def field(self, path: str):
        return self.page.locator(f'[data-path="{path}"]')

    def fill(self, values: dict[str, Any]) -> None:
        """Fill fields by path: strings are typed, lists tick checkboxes, a str radio value
        starting with '=' picks that choice, True/False pick yes/no."""
        for path, value in values.items():
            box = self.field(path)
            kind = (box.get_attribute("class") or "").split("t-")[-1].split()[0]
            if kind in ("select_one", "boolean") and box.locator("select").count():
                box.locator("select").select_option(str(value))
            elif kind == "boolean":
                box.locator(f'input[value="{str(value).lower()}"]').check()
            elif kind == "select_one":
                box.locator(f'input[value="{value}"]').check()
            elif kind == "select_multiple":
                for v in value:
                    box.locator(f'input[value="{v}"]').check()
            elif kind == "geopoint":
                inputs = box.locator("input")
                inputs.nth(0).fill(str(value["lat"]))
                inputs.nth(1).fill(str(value["lon"]))
            else:
                box.locator("input, textarea").first.fill(str(value))
                box.locator("input, textarea").first.dispatch_event("change")

    def save(self) -> None:
        """Press Save and wait until it has done what it does: the form gone (saved, or
        nothing to send), or its errors shown. Saving writes the outbox a moment after the
        tap: a test reading it at once would race the save."""
        self.page.locator("#save-btn").click()
        for _ in range(200):
            if (
                not self.page.locator("#entry").count()
                or self.page.locator("#form-errors:not([hidden])").count()
            ):
                return
            self.page.wait_for_timeout(50)
        raise AssertionError("Save neither left the form nor showed its errors")

    def sync(self) -> None:
        """Press Sync and wait until that sync has finished. A sync already running (a retry's
        timer, the one after a save) keeps the button disabled: its end is not this one's."""
        expect(self.page.locator("#sync-btn")).to_be_enabled(timeout=20_000)
        done = int(self.page.evaluate("document.body.dataset.syncs ?? 0")) + 1
        self.page.locator("#sync-btn").click()
        expect(self.page.locator(f'body[data-syncs="{done}"]')).to_have_count(1, timeout=20_000)

    def shot(self, name: str, *, docs: bool = False) -> None:
        """A screenshot in artifacts/screenshots/ (kept by CI). `docs`: one of those kept in
        docs/screenshots/ for the README, refreshed only with COSO_DOCS_SCREENSHOTS=1 so that a
        test run leaves the work tree clean."""
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        self.page.screenshot(path=str(path))
        if docs and os.environ.get("COSO_DOCS_SCREENSHOTS") == "1":
            (ROOT / "docs" / "screenshots").mkdir(parents=True, exist_ok=True)
            shutil.copy(path, ROOT / "docs" / "screenshots" / path.name)


@pytest.fixture
def phones(browser: Browser, server: Server) -> Iterator[Any]:
    """phones(name) -> a set-up Phone for a new officer of AREA (390x844, Hà Nội time);
    `setup=False`: a blank page, for tests of the setup itself."""
    made: list[BrowserContext] = []

    def make(
        name: str, *, viewport: tuple[int, int] = (390, 844), setup: bool = True, **kwargs: Any
    ) -> Phone:
        context = browser.new_context(
            viewport={"width": viewport[0], "height": viewport[1]},
            locale="vi-VN",
            timezone_id="Asia/Ho_Chi_Minh",
            service_workers="allow",
            accept_downloads=True,
            **kwargs,
        )
        context.set_default_timeout(15_000)
        made.append(context)
        phone = Phone(context, server, server.add_user(name))
        if setup:
            phone.setup()
        return phone

    yield make
    for context in made:
        context.close()
