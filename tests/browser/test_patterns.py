"""The server's reading of text patterns against Chromium's own `new RegExp(pattern, 'u')`:
the same answers on the sample values and on generated patterns, the refused Python syntax
that JavaScript cannot compile either, every \\p{...} name the server takes, and the
patterns the publish probe refuses as slow being slow in V8 too (and the safe ones fast)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from playwright.sync_api import Browser, Page

from server import pattern_tree, patterns, redos
from tests.browser.conftest import page_at
from tests.pattern_samples import (
    MATCHES,
    NOT_JAVASCRIPT,
    REFUSED_VALID_JAVASCRIPT,
    SAFE,
    SLOW,
    SLOW_BEHIND,
)
from tests.property.test_patterns_props import VALUE_CHARS, alternation

ORIGIN = "http://patterns.test"  # served by the test itself: an origin for Workers

TEST = "(rows) => rows.map(([p, v]) => new RegExp(p, 'u').test(v))"
COMPILES = """(sources) => sources.map((p) => {
  try { new RegExp(p, 'u'); return null; } catch (e) { return e.name + ': ' + e.message; }
})"""
# Each (pattern, text) tested in a Worker, ended after `limit` ms: the milliseconds it took,
# or null if it had not finished.
TIMED = """async ([cases, limit]) => {
  const code = "onmessage = (e) => { const t = performance.now(); " +
    "new RegExp(e.data[0], 'u').test(e.data[1]); postMessage(performance.now() - t); };";
  const url = URL.createObjectURL(new Blob([code], { type: 'text/javascript' }));
  const out = [];
  for (const c of cases) {
    const w = new Worker(url);
    out.push(await new Promise((done) => {
      const timer = setTimeout(() => done(null), limit);
      w.onmessage = (e) => { clearTimeout(timer); done(e.data); };
      w.postMessage(c);
    }));
    w.terminate();
  }
  return out;
}"""


@pytest.fixture
def js(browser: Browser) -> Iterator[Page]:
    """A blank page in Chromium (pytest-playwright's own `page` fixture wants base_url's)."""
    with page_at(browser, ORIGIN) as page:
        yield page


@pytest.mark.browser
def test_the_sample_values_match_as_in_chromium(js: Page) -> None:
    rows = [[p, v] for p, v, _ in MATCHES]
    in_chromium = js.evaluate(TEST, rows)
    on_server = [patterns.compile(p).search(v) for p, v, _ in MATCHES]
    expected = [e for _, _, e in MATCHES]
    assert in_chromium == expected
    assert on_server == expected


@pytest.mark.browser
def test_what_the_server_refuses_as_not_javascript_chromium_cannot_compile(js: Page) -> None:
    errors = js.evaluate(COMPILES, NOT_JAVASCRIPT)
    assert [p for p, e in zip(NOT_JAVASCRIPT, errors, strict=True) if e is None] == []
    valid = js.evaluate(COMPILES, REFUSED_VALID_JAVASCRIPT + SAFE + SLOW)
    assert valid == [None] * len(valid)  # refused for other reasons, or accepted: JavaScript


@pytest.mark.browser
def test_every_property_name_the_server_takes_means_the_same_in_chromium(js: Page) -> None:
    names = [
        *(rf"\p{{{n}}}" for n in pattern_tree.GENERAL_CATEGORY),
        *(rf"\p{{gc={n}}}" for n in ("L", "Lu", "Letter")),
        *(rf"\p{{{n}}}" for n in pattern_tree.BINARY_PROPERTY),
        *(rf"\p{{{key}={n}}}" for key in ("Script", "sc", "scx") for n in pattern_tree.SCRIPT),
    ]
    assert js.evaluate(COMPILES, names) == [None] * len(names)
    # what people type, and a few of the other kinds: marks, spaces, fullwidth, digits of
    # other scripts, numerals, symbols, emoji parts, scripts of Vietnam and its neighbours
    other = "\u0300\u1680\u2028\ufeff\u00ad\uff21\u0661\u2177¼©€😀👍🏽🇻🇳中あア한ไทยខ្មែរꪀ"
    chars = list(redos.TYPED) + list(other)
    rows = [[f"^{name}$", c] for name in names for c in chars]
    assert js.evaluate(TEST, rows) == [patterns.compile(p).search(v) for p, v in rows]


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
@given(
    pair=st.deferred(lambda: alternation(2, itertools.count())),
    values=st.lists(st.text(VALUE_CHARS, max_size=8), min_size=1, max_size=6),
)
@pytest.mark.browser
def test_generated_patterns_match_as_in_chromium(
    js: Page, pair: tuple[str, str], values: list[str]
) -> None:
    source, _ = pair
    rows = [[source, v] for v in values + [v + "\n" for v in values]]
    server = patterns.compile(source)
    assert js.evaluate(TEST, rows) == [server.search(v) for _, v in rows], source


def timed(js: Page, cases: list[tuple[str, str]], limit_ms: int) -> list[Any]:
    return js.evaluate(TIMED, [[list(c) for c in cases], limit_ms])  # type: ignore[no-any-return]


@pytest.mark.browser
def test_patterns_the_probe_refuses_are_slow_in_chromium_and_safe_ones_fast(js: Page) -> None:
    slow = [(p, redos.slow_text(p)) for p in SLOW[:10]] + list(SLOW_BEHIND.items())
    assert all(text is not None for _, text in slow)
    assert timed(js, slow, 1000) == [None] * len(slow)  # still running after a second
    # the safe ones, on the same kind of texts: their own letters, 40 times, then a misfit
    safe = [(p, "a" * 40 + "!") for p in SAFE] + [(p, "0" * 40 + "!") for p in SAFE]
    took = timed(js, safe, 1000)
    assert None not in took and max(took) < 250, took  # microseconds, with room for a busy CI
