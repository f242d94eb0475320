"""Text field patterns: compiled once and cached, and matched with a timeout as RegExp.test does.

Phones test a field's `pattern` with `new RegExp(pattern, 'u').test(value)`, so a pattern is
ECMAScript syntax: server/pattern_syntax.py reads it (and refuses what JavaScript cannot compile
and what would not match the same way here), server/pattern_tree.py translates it for the
`regex` module, which matches with a timeout and without holding the GIL. At publish,
server/redos.py also refuses a pattern that a backtracking engine (the phone's) can take
exponential time on.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import regex

from server.pattern_syntax import LargePattern, Parser, PatternError
from server.pattern_tree import Alt, emit, paths, size

MAX_SOURCE = 1000  # characters of pattern
MAX_TEXT = 100_000  # characters of a text value (validate.MAX_TEXT)
CACHE_SIZE = 200_000  # compiled patterns kept, in MAX_SIZE's units (some 60 MB at worst)
TIMEOUT = 0.05  # seconds one value may take to match on the server
TRIES = 3  # matches of one value the timeout stopped while its thread hardly ran
# Steps a match may take without the timeout (the regex module takes some 10 ns a step: a few
# ms at most, well within TIMEOUT), where the pattern's shape bounds them (`unbounded_up_to`).
UNTIMED_STEPS = 200_000


@dataclass(slots=True, eq=False)
class Pattern:
    """A checked pattern: its ECMAScript `source`, and `python`, the same for Python's regex
    module (which Python's re takes too, but for \\p{...} and lookbehinds of varying width).
    One object per source while cached, shared by every form version and request using it."""

    source: str
    python: str
    tree: Alt = field(repr=False)
    compiled: Any = field(repr=False)  # regex.Pattern[str]
    size: int = field(repr=False)
    # values up to this many characters are matched without the timeout (-1: none): those
    # the pattern's shape bounds within UNTIMED_STEPS, such as ^0[0-9]{9,10}$ on a phone
    # number. The timeout costs more than such a match (a clock read and the GIL let go and
    # taken back), which a push does for every value of a patterned field.
    untimed: int = field(default=-1, repr=False)

    def search(self, value: str) -> bool:
        """Whether `value` matches somewhere in it, as RegExp.test says; raises TimeoutError
        past TIMEOUT. The GIL is let go meanwhile, and a push matches before it takes the
        write lock, so a slow value costs its own request only: each value gets the same
        TIMEOUT whatever other requests matched before it.

        The timeout is on the clock, so a busy machine that leaves this thread waiting could
        stop a match of a short valid value (a phone number refused `pattern_timeout`, and a
        stored submission sent again refused): a match stopped while its thread had less than
        half the timeout of CPU is tried again, up to TRIES times."""
        if len(value) <= self.untimed:
            return self.compiled.search(value) is not None
        for attempt in range(TRIES):
            start = time.thread_time()
            try:
                return self.compiled.search(value, timeout=TIMEOUT, concurrent=True) is not None
            except TimeoutError:
                if attempt + 1 == TRIES or time.thread_time() - start >= TIMEOUT / 2:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover


_cache: OrderedDict[str, Pattern] = OrderedDict()
_cached = 0  # the sizes of the patterns in _cache
_lock = threading.Lock()


def compile(source: str) -> Pattern:
    """Read an ECMAScript (u flag) pattern; PatternError says what and where if refused. The
    most recently used patterns are kept, up to CACHE_SIZE of their sizes."""
    global _cached
    with _lock:
        pattern = _cache.get(source)
        if pattern is not None:
            _cache.move_to_end(source)
            return pattern
    pattern = _compile(source)
    with _lock:
        if source not in _cache:
            _cache[source] = pattern
            _cached += pattern.size
        while _cached > CACHE_SIZE:
            _cached -= _cache.popitem(last=False)[1].size
    return pattern


def _compile(source: str) -> Pattern:
    if len(source) > MAX_SOURCE:
        raise PatternError(
            f"mẫu dài quá {MAX_SOURCE} ký tự", f"a pattern longer than {MAX_SOURCE} characters"
        )
    tree = Parser(source).parse()
    python = emit(tree)
    try:
        compiled = regex.compile(python, regex.V0)
    except (MemoryError, RecursionError) as exc:  # not seen within MAX_SIZE: a backstop
        raise LargePattern(size(tree)) from exc
    return Pattern(source, python, tree, compiled, size(tree), untimed(tree))


def steps(tree: Alt, n: int) -> int | None:
    """At most how many steps a backtracking match of `tree` can take on a text of `n`
    characters: at each of its n + 1 starting positions, every way through the pattern
    (`paths`), each walking at most the text and the pattern once. None: no bound."""
    ways = paths(tree, n)
    return None if ways is None else (n + 1) * ways * (n + size(tree) + 1)


def untimed(tree: Alt) -> int:
    """The longest text (up to MAX_TEXT characters) `tree` matches within UNTIMED_STEPS
    whatever the text; -1 for none. `steps` grows with the length, so a binary search."""
    if (steps(tree, 0) or UNTIMED_STEPS + 1) > UNTIMED_STEPS:
        return -1
    low, high = 0, MAX_TEXT
    while low < high:
        mid = (low + high + 1) // 2
        found = steps(tree, mid)
        if found is not None and found <= UNTIMED_STEPS:
            low = mid
        else:
            high = mid - 1
    return low
