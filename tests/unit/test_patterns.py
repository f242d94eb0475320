"""Text patterns: ECMAScript syntax (the u flag) read and matched as the phone's RegExp does,
refusals that name the construct and its position, the publish-time probe against patterns
that take exponential time, and the matching timeout (server/pattern_syntax.py,
server/patterns.py, server/redos.py)."""

from __future__ import annotations

import dataclasses
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from server import pattern_syntax, patterns, redos
from server.cli import main
from server.form_source import read_source
from server.forms import parse_definition, walk
from tests.pattern_samples import MATCHES, NOT_JAVASCRIPT, REFUSED_VALID_JAVASCRIPT, SAFE, SLOW
from tests.property.test_validate_props import PATTERNS

ROOT = Path(__file__).parents[2]


@pytest.mark.parametrize(("pattern", "value", "expected"), MATCHES)
def test_matches_as_javascript_does(pattern: str, value: str, expected: bool) -> None:
    assert patterns.compile(pattern).search(value) is expected


# re has no \\p{...} and looks behind by a fixed width only
PLAIN_RE = [m for m in MATCHES if not (r"\p" in m[0].lower() or m[0] == r"(?<=a+)b")]


@pytest.mark.parametrize(("pattern", "value", "expected"), PLAIN_RE)
def test_the_translation_means_the_same_to_pythons_re(
    pattern: str, value: str, expected: bool
) -> None:
    """`python` is what hypothesis' from_regex reads (tests/property): without \\p{...} or a
    lookbehind of varying width it is plain `re` syntax, and matches alike."""
    assert (re.search(patterns.compile(pattern).python, value) is not None) is expected


@pytest.mark.parametrize("pattern", NOT_JAVASCRIPT + REFUSED_VALID_JAVASCRIPT)
def test_refused(pattern: str) -> None:
    with pytest.raises(pattern_syntax.PatternError) as info:
        patterns.compile(pattern)
    assert info.value.code == "invalid"
    assert " / " in str(info.value)  # Vietnamese / English


@pytest.mark.parametrize(
    ("pattern", "where", "says"),
    [
        (r"(?i)^hn[0-9]+$", 1, "no inline flags such as (?i) (case counts: write [Hh])"),
        (r"^[0-9]{,3}$", 7, "“{,3}” is Python syntax: write {0,3}"),
        (r"ab\Z", 3, "\\Z is Python syntax: write ^ for the start and $ for the end"),
        (r"x(?P<so>a)", 2, "(?P...) is Python syntax: a named group is (?<name>...)"),
        (r"^a*+$", 4, "possessive quantifiers (*+ ++ ?+) are Python syntax"),
        (r"(a)\1", 4, "backreferences (\\1) are refused"),
        (r"^[\d-z]$", 3, "a range cannot start or end at a class such as \\d"),
        (r"^\p{letter}$", 2, "no such Unicode property"),
        (r"[0-9", 1, "“[” is never closed"),
        (r"ab)", 3, "“)” closes no group"),
        (r"a{2,1}", 2, "numbers out of order"),
        (r"a}", 2, "a lone “}”: write \\} for the character itself"),
        (r"\uD800", 1, "a lone surrogate never matches text"),
        (r"^.{0,5000}$", 3, "a count above 1000: limit the length with max_length"),
    ],
)
def test_a_refusal_names_the_construct_and_where_it_is(pattern: str, where: int, says: str) -> None:
    with pytest.raises(pattern_syntax.PatternError) as info:
        patterns.compile(pattern)
    vietnamese, english = str(info.value).split(" / ", 1)
    assert vietnamese.startswith(f"ký tự {where}: ")
    assert english.startswith(f"at character {where}: ")
    assert says in english, english


def test_a_pattern_too_long_or_too_deep_is_refused() -> None:
    with pytest.raises(pattern_syntax.PatternError, match="longer than 1000"):
        patterns.compile("a" * 1001)
    with pytest.raises(pattern_syntax.PatternError, match="nested deeper"):
        patterns.compile("(" * 40 + ")" * 40)


def every_pattern_in_the_tests_and_schemas() -> list[str]:
    found = set(SAFE) | {p for p, _, _ in MATCHES} | set(PATTERNS) | {"^[0-9]+$"}
    for path in (ROOT / "schemas").glob("*.yaml"):
        form = parse_definition(read_source(path.read_text("utf-8"), path.name))
        found |= {f.pattern for _, f in walk(form.fields) if f.pattern is not None}
    return sorted(found)


@pytest.mark.parametrize("pattern", every_pattern_in_the_tests_and_schemas())
def test_common_and_published_patterns_pass_the_probe(pattern: str) -> None:
    assert redos.check(pattern).source == pattern


@pytest.mark.parametrize("pattern", SLOW)
def test_a_pattern_that_can_take_exponential_time_is_refused(pattern: str) -> None:
    start = time.monotonic()
    with pytest.raises(pattern_syntax.SlowPattern) as info:
        redos.check(pattern)
    assert time.monotonic() - start < 10  # the first slow probe stops it
    assert info.value.code == "slow"
    assert "exponential time, e.g. on " in str(info.value)


def test_the_refusal_shows_a_text_that_is_slow() -> None:
    text = redos.slow_text(r"^([A-Za-z]+\s?)+$")
    assert text is not None and re.fullmatch(r"a{40}[^A-Za-z\s]", text), text


def test_a_slow_part_behind_a_prefix_is_found() -> None:
    """The probes reach the repetition through what comes before it."""
    text = redos.slow_text(r"^HN-[0-9]{2}-([0-9]+)+$")
    assert text is not None and text.startswith("HN-00-000")


def test_a_branch_of_several_characters_is_pumped_as_other_branches_spell_it() -> None:
    r"""(\p{L}|ngh)+: "ngh" is one branch or three letters, so "ngh" * n + "!" takes 2**n
    steps (Chromium: a 100-character value held a phone for minutes)."""
    text = redos.slow_text(r"^(?:\p{L}|ngh)+$", max_length=200)
    assert text is not None and text[:-1] == "ngh" * 40 and not text[-1].isalpha(), text
    assert redos.slow_text(r"^(?:ab|a|ba)+$") == "aba" * 40 + "c"  # two branches in a row
    assert redos.slow_text(r"^(?:x(?:\p{L}|ngh))+$") is None  # an x between: one way only


def test_high_polynomial_time_is_refused_unless_max_length_keeps_texts_short() -> None:
    with pytest.raises(pattern_syntax.SlowPattern):
        redos.check(r".*.*=.*")  # cubic: 1000 characters are 10**9 steps
    assert redos.check(r".*.*=.*", max_length=50).source == ".*.*=.*"
    with pytest.raises(pattern_syntax.SlowPattern):  # exponential: refused whatever the length
        redos.check(r"^(a+)+$", max_length=20)


def test_exotic_characters_do_not_count() -> None:
    """[À-ỹ] holds U+1680 OGHAM SPACE MARK, which \\s holds too, so a text of them makes this
    exponential; no one types it: the probes use what people type, and the server still has
    its timeout."""
    assert redos.slow_text(r"^[A-Za-zÀ-ỹ]+(\s[A-Za-zÀ-ỹ]+)*$") is None


def test_matching_stops_at_the_timeout() -> None:
    """A slow pattern that got through (published before these checks) cannot hold the
    server: the regex module's guards make most of them linear, and the rest time out."""
    pattern = patterns.compile(r"^(a|a)+$")  # compiled only: no probe
    start = time.monotonic()
    with pytest.raises(TimeoutError):
        pattern.search("a" * 40 + "!")
    assert time.monotonic() - start < 1
    assert patterns.compile(r"^([A-Za-z]+\s?)+$").search("a" * 27 + "!") is False  # guarded


def test_a_value_gets_the_whole_timeout_whatever_timed_out_before() -> None:
    """Whether a valid value is accepted cannot depend on what another device pushed: a long
    valid value (a few ms: well inside the timeout even on a busy machine, where 5000 names
    took 43 ms of the 50) still matches right after another value timed out."""
    pattern = patterns.compile(r"^(?:[\p{L} ]|ngh)+$")  # compiled only: the probe refuses it
    good = ("Nguyễn Văn Nghĩa " * 1000).strip()
    assert pattern.search(good) is True
    with pytest.raises(TimeoutError):
        pattern.search("ngh" * 60 + "!")
    assert pattern.search(good) is True


@pytest.mark.parametrize(
    ("pattern", "where", "size"),
    [
        (r"(?:(?:a{1000}){1000}){1000}", 15, "1,000,000"),  # 24 GB in regex.compile
        (r"^(?:a{1000}){1000}$", 13, "1,000,000"),
        (r"^(?:[0-9]{100}-){50}$", 17, "5,050"),
        (r"^(?:a?a?a?a?a?a?){1000}$", 18, "6,000"),
    ],
)
def test_a_pattern_too_large_written_out_is_refused_where_it_grows(
    pattern: str, where: int, size: str
) -> None:
    with pytest.raises(pattern_syntax.LargePattern) as info:
        patterns.compile(pattern)
    assert info.value.code == "too_large"
    vietnamese, english = str(info.value).split(" / ", 1)
    assert vietnamese.startswith(f"ký tự {where}: mẫu quá lớn")
    assert english.startswith(f"at character {where}: a pattern too large")
    assert f"make {size} characters, above 5,000" in english


def test_a_pattern_too_large_only_as_a_whole_is_refused() -> None:
    with pytest.raises(pattern_syntax.LargePattern, match="make 6,000 characters"):
        patterns.compile("a{1000}" * 6)


def test_long_counts_and_a_few_nested_ones_are_accepted() -> None:
    for source in (
        r"^.{0,1000}$",
        r"^(?:[0-9]{3}-){2}[0-9]{4}$",
        r"^(?:\p{L}{1,50} ){0,20}\p{L}+$",
    ):
        assert redos.check(source).size <= pattern_syntax.MAX_SIZE


def test_the_compile_cache_is_bounded_by_the_patterns_sizes() -> None:
    for n in range(60):
        patterns.compile(f"^(?:ab{n}){{1,900}}$")  # 2,700 to 3,600 each
    assert patterns._cached <= patterns.CACHE_SIZE
    assert sum(p.size for p in patterns._cache.values()) == patterns._cached
    assert len(patterns._cache) < 60


def test_publishing_a_huge_pattern_stays_small_and_says_why(tmp_path: Path) -> None:
    """`coso forms publish` under a 1 GB address-space limit: a refusal, not a MemoryError
    traceback (regex.compile once grew the server to 24 GB on this pattern)."""
    form = tmp_path / "form.yaml"
    form.write_text(
        "form_id: nested_counts\ntitle: {vi: x, en: x}\nfields:\n"
        "  - {name: ma, type: text, label: {vi: Mã, en: Code}, "
        "pattern: '(?:(?:a{1000}){1000}){1000}'}\n",
        "utf-8",
    )
    db = str(tmp_path / "c.db")
    made = CliRunner().invoke(
        main, ["users", "add", "a", "--role", "admin", "--area", "", "--db", db]
    )
    assert made.exit_code == 0, made.stderr
    coso = "import resource; resource.setrlimit(resource.RLIMIT_AS, (2**30, 2**30)); "
    coso += "from server.cli import main; main()"
    done = subprocess.run(
        [sys.executable, "-c", coso, "forms", "publish", str(form), "--db", db],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=ROOT,
    )
    assert done.returncode not in (0, -9), done.stderr
    assert "Traceback" not in done.stderr and "MemoryError" not in done.stderr, done.stderr
    assert "fields[0].pattern" in done.stderr and "too large" in done.stderr, done.stderr


class _Starved:
    """A compiled pattern whose first matches are stopped by the timeout while the machine
    left the thread waiting (the clock ran, the thread's CPU did not), as under heavy load."""

    def __init__(self, compiled: object, stalls: int) -> None:
        self.compiled = compiled
        self.stalls = stalls

    def search(self, value: str, **kwargs: object) -> object:
        if self.stalls:
            self.stalls -= 1
            time.sleep(patterns.TIMEOUT)
            raise TimeoutError("regex timed out")
        return self.compiled.search(value, **kwargs)  # type: ignore[attr-defined]


def test_a_busy_machine_does_not_refuse_a_valid_value() -> None:
    """The soak found a phone number refused pattern_timeout by ^0[0-9]{9,10}$ on a loaded
    machine, and so a stored submission, sent again, rejected instead of duplicate."""
    real = patterns.compile(r"^0[0-9]{9,10}$")
    real = dataclasses.replace(real, untimed=-1)  # the timed path, as for a longer value
    starved = dataclasses.replace(real, compiled=_Starved(real.compiled, stalls=2))
    assert starved.search("0912345678") is True
    always = dataclasses.replace(real, compiled=_Starved(real.compiled, stalls=100))
    with pytest.raises(TimeoutError):  # never for ever: a few tries, then refused
        always.search("0912345678")


@pytest.mark.parametrize(
    ("pattern", "short"),
    [
        (r"^0[0-9]{9,10}$", "0912345678"),  # a phone number: a count of one character
        (r"^(0|\+84)[0-9]{9}$", "+84912345678"),  # a group not repeated: its branches
        (r"^[A-Za-z ]+$", "Nguyen Van A"),
        (r"[a-z]*[a-z]*[a-z]*x", "abx"),  # cubic: a short text only
    ],
)
def test_a_pattern_whose_shape_bounds_its_work_matches_short_values_untimed(
    pattern: str, short: str
) -> None:
    """The timeout costs more than matching a phone number, and a push matches every value
    of a patterned field: a value the pattern's shape bounds within UNTIMED_STEPS (at most a
    few ms) is matched without it. The worst text of that length (one that fails after
    every way has been tried) stays well within the timeout."""
    compiled = patterns.compile(pattern)
    assert len(short) <= compiled.untimed < patterns.MAX_TEXT
    assert compiled.search(short) is True
    for worst in ("a" * compiled.untimed, "a" * compiled.untimed + "!", "0" * compiled.untimed):
        start = time.thread_time()
        compiled.search(worst)
        assert time.thread_time() - start < patterns.TIMEOUT
    longer = "a" * (compiled.untimed + 1)
    assert compiled.search(longer) is (compiled.compiled.search(longer) is not None)


@pytest.mark.parametrize(
    "pattern", [r"^(a|a)+$", r"^\p{L}+( \p{L}+)*$", r"^(?=.*\d)\w+$", r"(?:ab)+", r"^(?:[0-9])*$"]
)
def test_a_repeated_group_or_a_lookaround_is_always_timed(pattern: str) -> None:
    """No bound from the shape: a group repeated can be split many ways, a lookaround runs a
    match of its own; every value is matched with the timeout."""
    assert patterns.compile(pattern).untimed == -1
