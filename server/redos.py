r"""Refuse, at publish, a text pattern that a backtracking engine can take exponential time on.

A backtracking engine (the phone's V8, Python's re) can take exponential time when one text can
be split between nested or neighbouring repetitions in many ways, as in (a+)+ or (\w+\s?)+,
and the text then fails to match: one officer's short entry freezes the phone, and would freeze
a server matching with re. The server matches with the regex module and a timeout, whose guards
hide most of this, so the probes run in Python's re, which backtracks as the phone does, in a
child process. The probes are texts of the characters people type
and the pattern's own: each character class becomes its members among them, one character of
each kind, so on those texts the probe pattern matches exactly as the pattern does.
"""

from __future__ import annotations

import functools
import json
import string
import subprocess
import sys
from typing import Any

import regex

from server.pattern_syntax import SlowPattern
from server.pattern_tree import (
    WORD,
    Alt,
    Assert,
    CharSet,
    Look,
    Node,
    Repeat,
    class_text,
    emit,
    literal,
    widths,
)
from server.patterns import Pattern, compile

_VIETNAMESE = "àáảãạăằắẳẵặâầấẩẫậđèéẻẽẹêềếểễệìíỉĩịòóỏõọôồốổỗộơờớởỡợùúủũụưừứửữựỳýỷỹỵ"
# What people type (the probes look for texts an officer could enter, not exotic code
# points: [À-ỹ] holds U+1680, a \s too, which no one types), and the pattern's characters.
TYPED = (
    string.ascii_letters
    + string.digits
    + string.punctuation
    + " \t\n\r\xa0\u3000"
    + _VIETNAMESE
    + _VIETNAMESE.upper()
    + "中😀"
)
REPEATS = 40  # pump repeated: 2**40 steps for exponential patterns, a few µs for others
POLY_LENGTH = 1000  # for high polynomial ones ((.*a){4}): 10**12 steps, or 1000 for linear
PROBE_LIMIT = 0.05  # CPU seconds any one probe may take
DEADLINE = 20.0  # seconds for them all, a backstop
MAX_PROBES = 6000
SPELLINGS = 12  # texts through one repetition's body, at most
MAX_PUMP = 100  # characters of a text pumped

# The child stops a probe after PROBE_LIMIT seconds of its own CPU time (not wall time: a busy
# machine that leaves it waiting does not make a pattern slow); Python's re checks for signals
# as it backtracks.
_CHILD = """
import json, re, signal, sys
class Slow(Exception):
    pass
def stop(signum, frame):
    raise Slow
signal.signal(signal.SIGVTALRM, stop)
job = json.loads(sys.stdin.read())
pattern = re.compile(job["pattern"])
for i, text in enumerate(job["probes"]):
    try:
        signal.setitimer(signal.ITIMER_VIRTUAL, job["limit"])
        pattern.search(text)
        signal.setitimer(signal.ITIMER_VIRTUAL, 0)
    except Slow:
        print(i)
        break
else:
    print("ok")
"""


class _Probe:
    def __init__(self, tree: Alt) -> None:
        self.tree = tree
        sets = list(dict.fromkeys([*_sets(tree), CharSet(WORD)]))  # \b looks at \w
        tests = [regex.compile(class_text(cs)) for cs in sets]
        pool = list(TYPED) + [chr(cs.single) for cs in sets if cs.single is not None]
        for cs, test in zip(sets, tests, strict=True):
            if cs.ranges and not cs.negated and not any(test.fullmatch(c) for c in pool):
                pool.append(chr(cs.ranges[0][0]))  # a class of characters not in TYPED
        # Characters that every class holds or lacks alike match alike: one of each kind.
        kinds = {tuple(bool(t.fullmatch(c)) for t in tests): c for c in reversed(pool)}
        self.alphabet = [c for c in pool if c in set(kinds.values())]
        self.members = {
            cs: [c for c in self.alphabet if test.fullmatch(c)]
            for cs, test in zip(sets, tests, strict=True)
        }

    def chars(self, cs: CharSet) -> str:
        """A CharSet as its members in the alphabet (for Python's re)."""
        members = self.members[cs]
        return "[" + "".join(literal(ord(c)) for c in members) + "]" if members else "(?!)"

    def first(self, node: Node) -> list[str]:
        """The alphabet's characters a match of `node` can start with."""
        if isinstance(node, CharSet):
            return self.members[node]
        if isinstance(node, Repeat):
            return self.first(node.body) if node.high != 0 else []
        if isinstance(node, Alt):
            out: list[str] = []
            for branch in node.branches:
                for n in branch:
                    out += self.first(n)
                    if not _nullable(n):
                        break
            return list(dict.fromkeys(out))
        return []

    def shortest(self, node: Node) -> str | None:
        """A shortest text `node` matches (assertions aside), or None if none in the alphabet."""
        if isinstance(node, CharSet):
            return self.members[node][0] if self.members[node] else None
        if isinstance(node, Repeat):
            body = self.shortest(node.body) if node.low else ""
            return None if body is None else body * node.low
        if isinstance(node, Alt):
            texts = [self._sequence(b) for b in node.branches]
            found = [t for t in texts if t is not None]
            return min(found, key=len) if found else None
        return ""

    def _sequence(self, branch: tuple[Node, ...]) -> str | None:
        parts = [self.shortest(n) for n in branch]
        return None if None in parts else "".join(parts)  # type: ignore[arg-type]

    def spellings(self, node: Node) -> list[str]:
        r"""Short texts `node` matches, one through each branch of each alternation in it (the
        rest shortest), so that (\p{L}|ngh) gives "a" and "ngh": repeated, the latter is
        matched by either branch, and a failing end makes a backtracking engine try 2**n
        ways."""
        if isinstance(node, CharSet):
            return self.members[node][:1]
        if isinstance(node, Repeat):
            once = [t * max(node.low, 1) for t in self.spellings(node.body)]
            return ([""] if node.low == 0 else []) + once
        if isinstance(node, Alt):
            out: list[str] = []
            for branch in node.branches:
                parts = [self.shortest(n) for n in branch]
                shortest = [t for t in parts if t is not None]
                if len(shortest) < len(parts):
                    continue
                for i, n in enumerate(branch):
                    before, after = "".join(shortest[:i]), "".join(shortest[i + 1 :])
                    out += [before + t + after for t in self.spellings(n)]
            return list(dict.fromkeys(out))[:SPELLINGS]
        return [""]

    def prefix(self, node: Node, target: Repeat) -> str | None:
        """A short text that takes a match from `node`'s start to `target`'s."""
        if node is target:
            return ""
        if isinstance(node, Repeat | Look):
            return self.prefix(node.body, target)
        if isinstance(node, Alt):
            for branch in node.branches:
                before = ""
                for n in branch:
                    found = self.prefix(n, target)
                    if found is not None:
                        return before + found
                    before += self.shortest(n) or ""
        return None

    def texts(self, max_length: int | None) -> list[str]:
        """Prefix + a pump repeated + a character that should make the match fail, for every
        repetition in the pattern; the exponential ones short, the polynomial ones long."""
        exp: list[str] = []
        poly: list[str] = []
        long = min(max_length or POLY_LENGTH, POLY_LENGTH)
        for rep in _repeats(self.tree):
            prefix = self.prefix(self.tree, rep) or ""
            firsts = self.first(rep.body)
            if not firsts:
                continue
            inside = list(dict.fromkeys(c for cs in _sets(rep.body) for c in self.members[cs]))
            pumps = firsts[:8] + [a + b for a in firsts[:4] for b in inside[:6]]
            # Each way through the body, and two of them in a row ((ab|a|ba)+ on "aba"...).
            spelled = [t for t in self.spellings(rep.body) if 0 < len(t) <= MAX_PUMP]
            pumps += [t for t in spelled if len(t) > 1]
            pumps += [a + b for a in spelled[:5] for b in spelled[:5]]
            ends = [""] + [c for c in self.alphabet if c not in firsts]
            exp += [prefix + pump * REPEATS + end for pump in pumps for end in ends]
            poly += [prefix + c * long + end for c in firsts[:4] for end in ends[:8]]
        return list(dict.fromkeys(exp[: MAX_PROBES - 500] + poly[:500]))


def _nullable(node: Node) -> bool:
    if isinstance(node, CharSet):
        return False
    if isinstance(node, Repeat):
        return node.low == 0 or _nullable(node.body)
    if isinstance(node, Alt):
        return any(all(_nullable(n) for n in b) for b in node.branches)
    return True


def _children(node: Node) -> list[Node]:
    if isinstance(node, Repeat | Look):
        return [node.body]
    if isinstance(node, Alt):
        return [n for b in node.branches for n in b]
    return []


def _repeats(node: Node) -> list[Repeat]:
    here = [node] if isinstance(node, Repeat) and (node.high is None or node.high > 1) else []
    return here + [r for child in _children(node) for r in _repeats(child)]


def _sets(node: Node) -> list[CharSet]:
    if isinstance(node, CharSet):
        return [node]
    return [s for child in _children(node) for s in _sets(child)]


@functools.lru_cache(maxsize=512)
def slow_text(source: str, max_length: int | None = None) -> str | None:
    r"""A text on which a backtracking engine takes too long with this pattern, or None.

    A lookbehind of varying width, which Python's re cannot run, is probed apart: V8 matches
    it backwards, from where it stands to the left, as a forward engine matches its body
    written backwards. `^.*(?<!^(\w+\s?)+\.)$` took 6 s on a phone for 29 characters
    (found by a probe) and was published."""
    tree = compile(source).tree
    found = _slow_in(tree, max_length)
    for body, behind in [] if found is not None else _unprobed(tree):
        text = _slow_in(_reversed(body) if behind else body, max_length)
        if text is not None:
            return text[::-1] if behind else text
    return found


def _unprobed(node: Node, inside: bool = False) -> list[tuple[Alt, bool]]:
    """The lookarounds the probe of the whole pattern leaves out, each (body, behind): those
    behind of varying width, and any inside one of them (a lookahead in a lookbehind runs
    forwards, `(?<=(?=(a+)+$)a*)b`: found by a probe), each probed on its own."""
    out: list[tuple[Alt, bool]] = []
    if isinstance(node, Look):
        varying = node.behind and len(set(widths(node.body))) != 1
        if varying or inside:
            out.append((node.body, node.behind))
        inside = inside or varying
    for child in _children(node):
        out += _unprobed(child, inside)
    return out


def _reversed(node: Any) -> Any:
    """`node` written backwards: each sequence in the other order, `^` and `$` swapped."""
    if isinstance(node, Assert):
        return Assert({"^": "$", "$": "^"}.get(node.kind, node.kind))
    if isinstance(node, Look):
        return Look(not node.behind, node.negative, _reversed(node.body))
    if isinstance(node, Repeat):
        return Repeat(_reversed(node.body), node.low, node.high, node.lazy)
    if isinstance(node, Alt):
        return Alt(tuple(tuple(_reversed(n) for n in reversed(b)) for b in node.branches))
    return node


def _slow_in(tree: Alt, max_length: int | None) -> str | None:
    probe = _Probe(tree)
    texts = probe.texts(max_length)
    if not texts:
        return None
    job = {"pattern": emit(probe.tree, probe.chars, probe=True), "probes": texts}
    try:
        done = subprocess.run(  # noqa: S603 (our own interpreter and code)
            [sys.executable, "-I", "-S", "-c", _CHILD],
            input=json.dumps({**job, "limit": PROBE_LIMIT}).encode(),
            capture_output=True,
            timeout=DEADLINE,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return texts[0]  # never seen: each probe stops itself, and safe ones take µs
    answer = done.stdout.decode().strip()
    if done.returncode or not (answer == "ok" or answer.isdigit()):
        raise RuntimeError(
            f"the pattern probe failed on {job['pattern']!r}: {done.stderr.decode()}"
        )
    return None if answer == "ok" else texts[int(answer)]


def check(source: str, max_length: int | None = None) -> Pattern:
    """`compile`, and refuse (SlowPattern) a pattern that can take a backtracking engine far
    more than linear time on some text of up to `max_length` characters."""
    pattern = compile(source)
    text = slow_text(source, max_length)
    if text is not None:
        shown = text if len(text) <= 24 else f"{text[:12]}…{text[-6:]}"
        shown = json.dumps(shown, ensure_ascii=False)
        raise SlowPattern(
            f"mẫu này có thể chạy rất lâu (thời gian tăng theo cấp số nhân), vd. với {shown}: "
            "tránh lặp lồng nhau như (a+)+ hay (\\w+\\s?)+; viết lại, vd. ^\\p{L}+( \\p{L}+)*$",
            f"this pattern can take exponential time, e.g. on {shown}: avoid nested repetition "
            "such as (a+)+ or (\\w+\\s?)+; rewrite it, e.g. ^\\p{L}+( \\p{L}+)*$",
        )
    return pattern
