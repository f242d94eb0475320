"""Property: a pattern written in JavaScript's syntax matches on the server exactly as a
reference does, where the reference is the same pattern built here straight into the regex
module's syntax, with JavaScript's meaning of each piece spelled out (ECMAScript 2024,
22.2.2: \\s is WhiteSpace and LineTerminator, `.` all but line terminators, \\d \\w \\b
ASCII, `$` the end of input). The JavaScript side varies its spellings: escapes in all their
forms, surrogate pairs, class escapes inside classes, named groups, lazy quantifiers."""

from __future__ import annotations

import itertools
import time

import regex
from hypothesis import given
from hypothesis import strategies as st

from server import patterns

JS_SPACE = (
    "\t\n\v\f\r \u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008"
    "\u2009\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
)
SPACE_SET = "".join(regex.escape(c) for c in JS_SPACE)
WORD_SET = "A-Za-z0-9_"
LINE_SET = regex.escape("\n\r\u2028\u2029")
B = f"(?:(?<=[{WORD_SET}])(?![{WORD_SET}])|(?<![{WORD_SET}])(?=[{WORD_SET}]))"
NOT_B = f"(?:(?<=[{WORD_SET}])(?=[{WORD_SET}])|(?<![{WORD_SET}])(?![{WORD_SET}]))"
SYNTAX = "^$\\.*+?()[]{}|/"
LITERALS = "ab1_ -.éĐ😀$^*+?()[]{}|/\\"
# the values tried: what the pieces above tell apart
VALUE_CHARS = "ab1_ é-\u00a0\u3000\u1680\n\r\u2028\t\x1c\x85😀Đ$.\u200bZ"

# JavaScript spelling -> the same characters for the regex module (V1: sets nest)
CLASS_ESCAPES = {
    r"\d": "[0-9]",
    r"\D": "[^0-9]",
    r"\w": f"[{WORD_SET}]",
    r"\W": f"[^{WORD_SET}]",
    r"\s": f"[{SPACE_SET}]",
    r"\S": f"[^{SPACE_SET}]",
    r"\p{L}": r"\p{L}",
    r"\P{Lu}": r"\P{Lu}",
    r"\p{Script=Latin}": r"\p{Script=Latin}",
    r"\p{Nd}": r"\p{Nd}",
}
RANGES = [("a", "z"), ("0", "9"), ("À", "ỹ"), ("😀", "🙏"), ("\u2000", "\u200a")]


def spellings(c: str, *, in_class: bool = False) -> list[str]:
    """Ways JavaScript (u flag) writes the character c."""
    cp = ord(c)
    escaped = "\\" + c if c in SYNTAX or (in_class and c == "-") else c
    out = [escaped, f"\\u{{{cp:x}}}", f"\\u{{{cp:06X}}}"]
    if cp < 0x100:
        out.append(f"\\x{cp:02x}")
    if cp < 0x10000:
        out.append(f"\\u{cp:04X}")
    else:
        high, low = 0xD800 + ((cp - 0x10000) >> 10), 0xDC00 + ((cp - 0x10000) & 0x3FF)
        out.append(f"\\u{high:04x}\\u{low:04X}")
    return out


@st.composite
def literal(draw: st.DrawFn, *, in_class: bool = False) -> tuple[str, str]:
    c = draw(st.sampled_from(LITERALS))
    return draw(st.sampled_from(spellings(c, in_class=in_class))), regex.escape(c)


@st.composite
def char_class(draw: st.DrawFn) -> tuple[str, str]:
    items = []
    for _ in range(draw(st.integers(0, 3))):
        kind = draw(st.sampled_from(["literal", "range", "escape"]))
        if kind == "literal":
            items.append(draw(literal(in_class=True)))
        elif kind == "range":
            lo, hi = draw(st.sampled_from(RANGES))
            js = draw(st.sampled_from(spellings(lo, in_class=True)))
            js += "-" + draw(st.sampled_from(spellings(hi, in_class=True)))
            items.append((js, f"{regex.escape(lo)}-{regex.escape(hi)}"))
        else:
            js = draw(st.sampled_from(sorted(CLASS_ESCAPES)))
            items.append((js, CLASS_ESCAPES[js]))
    negated = draw(st.booleans())
    js = "[" + "^" * negated + "".join(j for j, _ in items) + "]"
    if not items:  # [] matches nothing, [^] anything
        return js, (r"[\s\S]" if negated else "(?!)")
    return js, "[" + "^" * negated + "".join(r for _, r in items) + "]"


def atom(depth: int, names: itertools.count[int]) -> st.SearchStrategy[tuple[str, str]]:
    simple = st.one_of(
        literal(),
        char_class(),
        st.sampled_from(sorted(CLASS_ESCAPES.items())),
        st.just((".", f"[^{LINE_SET}]")),
    )
    return simple if depth <= 0 else st.one_of(simple, group(depth - 1, names))


@st.composite
def group(draw: st.DrawFn, depth: int, names: itertools.count[int]) -> tuple[str, str]:
    inner = draw(alternation(depth, names))
    head = draw(st.sampled_from(["(", "(?:", "(?<name>", "(?=", "(?!", "(?<=", "(?<!"]))
    if head == "(?<name>":
        head = f"(?<g{next(names)}>"
    ref_head = head if head.startswith(("(?=", "(?!", "(?<=", "(?<!")) else "(?:"
    return head + inner[0] + ")", ref_head + inner[1] + ")"


@st.composite
def term(draw: st.DrawFn, depth: int, names: itertools.count[int]) -> tuple[str, str]:
    anchors = {"^": "^", "$": r"\Z", r"\b": B, r"\B": NOT_B}
    if draw(st.integers(0, 5)) == 0:
        return draw(st.sampled_from(sorted(anchors.items())))
    js, ref = draw(atom(depth, names))
    if js.startswith(("(?=", "(?!", "(?<=", "(?<!")):
        return js, ref  # an assertion cannot be repeated
    count = draw(st.sampled_from(["", "", "*", "+", "?", "{2}", "{1,}", "{0,2}", "{1,3}"]))
    if count:
        count += draw(st.sampled_from(["", "?"]))  # lazy or not: the same answer
    return js + count, ref + count


@st.composite
def alternation(draw: st.DrawFn, depth: int, names: itertools.count[int]) -> tuple[str, str]:
    branches = draw(
        st.lists(st.lists(term(depth, names), min_size=0, max_size=3), min_size=1, max_size=3)
    )
    js = "|".join("".join(j for j, _ in b) for b in branches)
    ref = "|".join("".join(r for _, r in b) for b in branches)
    return js, ref


@st.composite
def pattern_pairs(draw: st.DrawFn) -> tuple[str, str]:
    return draw(alternation(2, itertools.count()))


@given(pattern_pairs(), st.lists(st.text(VALUE_CHARS, max_size=8), min_size=1, max_size=8))
def test_the_server_matches_as_javascripts_meaning_says(
    pair: tuple[str, str], values: list[str]
) -> None:
    js, ref = pair
    server = patterns.compile(js)
    reference = regex.compile(ref, regex.V1)
    for value in values + [v + "\n" for v in values]:  # Python's $ matches before a last \n
        expected = reference.search(value) is not None
        assert server.search(value) is expected, (js, ref, server.python, value)


@given(pattern_pairs(), st.text(VALUE_CHARS, min_size=1, max_size=4), st.sampled_from("!a1 "))
def test_a_value_matched_untimed_never_takes_long(
    pair: tuple[str, str], unit: str, end: str
) -> None:
    """A value no longer than `untimed` is matched without the timeout: the pattern's shape
    bounds the work. Texts of that length repeating a few characters, failing at the end (the
    texts backtracking is slowest on), take a small part of the timeout."""
    compiled = patterns.compile(pair[0])
    if compiled.untimed < 1:
        return
    n = min(compiled.untimed, 5_000)
    text = (unit * n)[: n - 1] + end
    start = time.thread_time()
    assert compiled.search(text) is (compiled.compiled.search(text) is not None)
    assert time.thread_time() - start < patterns.TIMEOUT / 2
