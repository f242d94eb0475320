"""Read a text pattern as JavaScript's `RegExp` with the `u` flag reads it, into a syntax tree.

Phones test a field's `pattern` with `new RegExp(pattern, 'u').test(value)`, so a pattern is
ECMAScript syntax. The parser reads it with ECMAScript's grammar, refusing (with the construct
and its position) what JavaScript cannot compile and what would not match the same way here,
and what is too large to compile. server/pattern_tree.py writes the tree for the `regex` module.
"""

from __future__ import annotations

import re
from typing import NoReturn, cast

from server.pattern_tree import (
    BINARY_PROPERTY,
    DIGIT,
    GENERAL_CATEGORY,
    LINE_TERMINATORS,
    SCRIPT,
    SPACE,
    WORD,
    Alt,
    Assert,
    CharSet,
    Look,
    Node,
    Repeat,
    size,
)

MAX_COUNT = 1000  # the largest n in {n} / {n,m}: lengths are max_length's job
MAX_DEPTH = 32  # nested groups
# Characters, classes and assertions in a pattern with its counts written out ((?:ab?){3} as
# ab?ab?ab?): the regex module compiles counts so, some 300 bytes each at worst, and nested
# counts multiply ((?:(?:a{1000}){1000}){1000} is 10**9: the server grew to 24 GB). Field
# formats need a few dozen repetitions nested once or twice, or one long count (.{0,1000}).
MAX_SIZE = 5000  # about 1 MB compiled at worst

DIGITS = "0123456789"  # str.isdigit and re's \d take other scripts' digits too
SYNTAX = "^$\\.*+?()[]{}|/"  # what `\` may escape to itself with the u flag


class PatternError(ValueError):
    """A pattern refused; the message is "Vietnamese / English", naming where and what."""

    code = "invalid"

    def __init__(self, vi: str, en: str, at: int | None = None) -> None:
        where = ("", "") if at is None else (f"ký tự {at + 1}: ", f"at character {at + 1}: ")
        super().__init__(f"{where[0]}{vi} / {where[1]}{en}")


class SlowPattern(PatternError):
    code = "slow"


class LargePattern(PatternError):
    code = "too_large"

    def __init__(self, size: int, at: int | None = None) -> None:
        big, limit = (f"{n:,}".replace(",", ".") for n in (size, MAX_SIZE))
        super().__init__(
            f"mẫu quá lớn: viết đủ các lần lặp ra thì được {big} ký tự, quá {limit} (các số "
            "lần lặp lồng nhau nhân với nhau): giới hạn độ dài bằng max_length",
            f"a pattern too large: written out, its counts make {size:,} characters, above "
            f"{MAX_SIZE:,} (nested counts multiply): limit the length with max_length",
            at,
        )


def _char(cp: int) -> CharSet:
    return CharSet(((cp, cp),))


def _complement(ranges: tuple[tuple[int, int], ...]) -> tuple[tuple[int, int], ...]:
    out, start = [], 0
    for lo, hi in sorted(ranges):
        if lo > start:
            out.append((start, lo - 1))
        start = max(start, hi + 1)
    if start <= 0x10FFFF:
        out.append((start, 0x10FFFF))
    return tuple(out)


class Parser:
    """ECMAScript's Pattern grammar with the u flag (no Annex B leniency), refusing what would
    not match alike here: backreferences (JavaScript matches a group not yet set as empty, Python
    fails it) and what JavaScript does not have (inline flags, atomic groups, possessive
    quantifiers, \\A \\Z, {,n}: Python's, and refused by JavaScript too)."""

    def __init__(self, source: str) -> None:
        self.s, self.i, self.depth, self.names = source, 0, 0, set[str]()

    def fail(self, vi: str, en: str, at: int | None = None) -> NoReturn:
        raise PatternError(vi, en, self.i if at is None else at)

    def peek(self, ahead: int = 0) -> str:
        return self.s[self.i + ahead] if self.i + ahead < len(self.s) else ""

    def parse(self) -> Alt:
        tree = self.alternation()
        if self.i < len(self.s):
            self.fail("“)” không có “(” mở tương ứng", "“)” closes no group")
        if size(tree) > MAX_SIZE:
            raise LargePattern(size(tree))
        return tree

    def alternation(self) -> Alt:
        branches = [self.sequence()]
        while self.peek() == "|":
            self.i += 1
            branches.append(self.sequence())
        return Alt(tuple(branches))

    def sequence(self) -> tuple[Node, ...]:
        items: list[Node] = []
        while self.i < len(self.s) and self.peek() not in "|)":
            items.append(self.quantified(self.term()))
        return tuple(items)

    def term(self) -> Node:
        start, c = self.i, self.peek()
        self.i += 1
        if c in "^$":
            return Assert(c)
        if c == ".":
            return CharSet(LINE_TERMINATORS, negated=True)
        if c == "[":
            return self.char_class(start)
        if c == "(":
            return self.group(start)
        if c == "\\":
            return self.escape(start, in_class=False)
        if c in "*+?" or (c == "{" and self.braces(start) is not None):
            self.fail(
                f"“{c}” không lặp lại được gì (đứng sau một ký tự hoặc nhóm)",
                f"“{c}” has nothing to repeat (it follows a character or a group)",
                start,
            )
        if c in "{}]":
            self.fail(
                f"“{c}” đứng riêng: viết \\{c} để chỉ chính ký tự đó",
                f"a lone “{c}”: write \\{c} for the character itself",
                start,
            )
        return _char(ord(c))

    def quantified(self, atom: Node) -> Node:
        start, c = self.i, self.peek()
        if not c or c not in "*+?{":
            return atom
        if c == "{":
            bounds = self.braces(start)
            if bounds is None:
                return atom  # the next term() says what is wrong with this "{"
            low, high = bounds
        else:
            self.i += 1
            low, high = {"*": (0, None), "+": (1, None), "?": (0, 1)}[c]
        if isinstance(atom, Assert | Look):
            self.fail(
                "không lặp lại được một điều kiện vị trí (^ $ \\b (?= ...)",
                "an assertion (^ $ \\b (?= ...) cannot be repeated",
                start,
            )
        lazy = self.peek() == "?"
        self.i += lazy
        if self.peek() == "+":
            self.fail(
                "lượng từ chiếm hữu (*+ ++ ?+) là cú pháp Python, JavaScript không có",
                "possessive quantifiers (*+ ++ ?+) are Python syntax, not JavaScript",
            )
        repeat = Repeat(atom, low, high, lazy)  # type: ignore[arg-type]  # CharSet or Alt
        if size(repeat) > MAX_SIZE:
            raise LargePattern(size(repeat), start)
        return repeat

    def braces(self, start: int) -> tuple[int, int | None] | None:
        """`{n}`, `{n,}`, `{n,m}` at `start`, consumed; None (nothing consumed) otherwise."""
        m = re.compile(r"\{([0-9]*)(,?)([0-9]*)\}").match(self.s, start)
        if m is None or (not m[2] and not m[1]) or (m[3] and not m[2]):
            return None
        if not m[1]:
            self.fail(
                f"“{m[0]}” là cú pháp Python: viết {{0,{m[3]}}}",
                f"“{m[0]}” is Python syntax: write {{0,{m[3]}}}",
                start,
            )
        low = int(m[1])
        high = low if not m[2] else int(m[3]) if m[3] else None
        if max(low, high or 0) > MAX_COUNT:
            self.fail(
                f"số lần lặp quá {MAX_COUNT}: giới hạn độ dài bằng max_length",
                f"a count above {MAX_COUNT}: limit the length with max_length",
                start,
            )
        if high is not None and low > high:
            self.fail(f"“{m[0]}”: số đầu lớn hơn số sau", f"“{m[0]}”: numbers out of order", start)
        self.i = m.end()
        return low, high

    def group(self, start: int) -> Node:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            self.fail("lồng nhóm quá sâu", f"groups nested deeper than {MAX_DEPTH}", start)
        look: tuple[bool, bool] | None = None
        if self.peek() == "?":
            head = self.s[self.i : self.i + 3]
            if head[:2] in ("?:", "?=", "?!"):
                look = None if head[1] == ":" else (False, head[1] == "!")
                self.i += 2
            elif head in ("?<=", "?<!"):
                look = (True, head[2] == "!")
                self.i += 3
            elif head[:2] == "?<":
                self.group_name(start)
            elif head[:2] == "?P":
                self.fail(
                    "(?P...) là cú pháp Python: nhóm có tên viết (?<ten>...)",
                    "(?P...) is Python syntax: a named group is (?<name>...)",
                    start,
                )
            else:
                self.fail(
                    "“(?” chỉ mở (?: (?= (?! (?<= (?<! (?<ten>: không có cờ như (?i) (chữ hoa "
                    "và thường khác nhau: viết [Hh]), chú thích (?#) hay nhóm nguyên tử (?>)",
                    "“(?” can only start (?: (?= (?! (?<= (?<! (?<name>: no inline flags such "
                    "as (?i) (case counts: write [Hh]), comments (?#) or atomic groups (?>)",
                    start,
                )
        body = self.alternation()
        if self.peek() != ")":
            self.fail("“(” không có “)” đóng", "“(” is never closed", start)
        self.i += 1
        self.depth -= 1
        return body if look is None else Look(look[0], look[1], body)

    def group_name(self, start: int) -> None:
        m = re.compile(r"\?<([^>]*)>").match(self.s, self.i)
        if m is None or not re.fullmatch(r"[A-Za-z_$][A-Za-z0-9_$]*", m[1]):
            self.fail(
                "tên nhóm (?<ten>...) là chữ cái Latinh không dấu, chữ số, _ hoặc $",
                "a group name (?<name>...) is ASCII letters, digits, _ or $",
                start,
            )
        if m[1] in self.names:
            self.fail(f"tên nhóm “{m[1]}” dùng hai lần", f"the group name “{m[1]}” is used twice")
        self.names.add(m[1])
        self.i = m.end()

    def char_class(self, start: int) -> CharSet:
        negated = self.peek() == "^"
        self.i += negated
        ranges: list[tuple[int, int]] = []
        props: list[str] = []
        while self.peek() != "]":
            if not self.peek():
                self.fail("“[” không có “]” đóng", "“[” is never closed", start)
            at = self.i
            first = self.class_atom()
            if self.peek() == "-" and self.peek(1) not in ("]", ""):
                self.i += 1
                last = self.class_atom()
                lo, hi = first.single, last.single
                if lo is None or hi is None:
                    self.fail(
                        "một khoảng không bắt đầu hay kết thúc bằng lớp như \\d: viết \\- "
                        "cho dấu gạch",
                        "a range cannot start or end at a class such as \\d: write \\- for "
                        "a hyphen",
                        at,
                    )
                if lo > hi:
                    self.fail("khoảng ký tự ngược thứ tự", "a character range out of order", at)
                ranges.append((lo, hi))
            else:
                ranges += _complement(first.ranges) if first.negated else first.ranges
                props += first.props
        self.i += 1
        return CharSet(tuple(ranges), tuple(props), negated)

    def class_atom(self) -> CharSet:
        start, c = self.i, self.peek()
        self.i += 1
        if c != "\\":
            return _char(ord(c))
        return cast(CharSet, self.escape(start, in_class=True))  # in a class: a set, always

    def escape(self, start: int, *, in_class: bool) -> Node:
        c = self.peek()
        self.i += 1
        if not c:
            self.fail("“\\” ở cuối mẫu", "a “\\” at the end of the pattern", start)
        if c in "dDwWsS":
            ranges = {"d": DIGIT, "w": WORD, "s": SPACE}[c.lower()]
            return CharSet(ranges, negated=c.isupper())
        if c in "pP":
            return self.property(start, negated=c == "P")
        if c in "bB" and not in_class:
            return Assert(c)
        if in_class and c in "b-":
            return _char(8 if c == "b" else ord("-"))
        if c == "0" and not (self.peek() and self.peek() in DIGITS):
            return _char(0)
        if c in DIGITS:
            if not in_class and c != "0":
                self.fail(
                    f"không nhận tham chiếu ngược \\{c}: JavaScript và Python khớp nó khác nhau",
                    f"backreferences (\\{c}) are refused: JavaScript and Python match them "
                    "differently",
                    start,
                )
            self.fail(
                f"\\{c}...: JavaScript (cờ u) không có thoát bát phân",
                f"\\{c}...: JavaScript (u flag) has no octal escapes",
                start,
            )
        if c == "k":
            self.fail(
                "không nhận tham chiếu ngược \\k<ten>: JavaScript và Python khớp nó khác nhau",
                "backreferences (\\k<name>) are refused: JavaScript and Python match them "
                "differently",
                start,
            )
        if c in "fnrtv":
            return _char(ord({"f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v"}[c]))
        if c == "c":
            if not (self.peek().isascii() and self.peek().isalpha()):
                self.fail("\\c cần một chữ cái (\\cJ)", "\\c takes a letter (\\cJ)", start)
            self.i += 1
            return _char(ord(self.s[self.i - 1]) % 32)
        if c == "x":
            if not re.fullmatch(r"[0-9A-Fa-f]{2}", self.s[self.i : self.i + 2]):
                self.fail("\\x cần 2 chữ số hex (\\x41)", "\\x takes two hex digits (\\x41)", start)
            self.i += 2
            return _char(int(self.s[self.i - 2 : self.i], 16))
        if c == "u":
            return _char(self.unicode_escape(start))
        if c in SYNTAX:
            return _char(ord(c))
        if c in "AZzG":
            self.fail(
                f"\\{c} là cú pháp Python: đầu chuỗi viết ^, cuối chuỗi viết $",
                f"\\{c} is Python syntax: write ^ for the start and $ for the end",
                start,
            )
        self.fail(
            f"JavaScript (cờ u) không có thoát “\\{c}”: viết chính ký tự đó",
            f"“\\{c}” is not an escape in JavaScript with the u flag: write the character",
            start,
        )

    def unicode_escape(self, start: int) -> int:
        m = re.compile(r"\{([0-9A-Fa-f]{1,8})\}|([0-9A-Fa-f]{4})").match(self.s, self.i)
        cp = int(m[1] or m[2], 16) if m else -1
        if m is None or cp > 0x10FFFF:
            self.fail(
                "\\u cần 4 chữ số hex (\\u00E0) hoặc \\u{...} đến 10FFFF",
                "\\u takes four hex digits (\\u00E0) or \\u{...} up to 10FFFF",
                start,
            )
        self.i = m.end()
        low = re.compile(r"\\u([Dd][C-Fc-f][0-9A-Fa-f]{2})").match(self.s, self.i)
        if m[2] and 0xD800 <= cp <= 0xDBFF and low:
            self.i = low.end()  # a surrogate pair is one code point with the u flag
            return 0x10000 + ((cp - 0xD800) << 10) + (int(low[1], 16) - 0xDC00)
        if 0xD800 <= cp <= 0xDFFF:
            self.fail(
                "nửa cặp thay thế (surrogate) đứng riêng không bao giờ khớp văn bản",
                "a lone surrogate never matches text",
                start,
            )
        return cp

    def property(self, start: int, *, negated: bool) -> CharSet:
        m = re.compile(r"\{([A-Za-z_]+)(?:=([A-Za-z0-9_]+))?\}").match(self.s, self.i)
        name = _property(m[1], m[2]) if m else None
        if m is None or name is None:
            self.fail(
                "thuộc tính Unicode không có (tên viết đúng như JavaScript, vd. \\p{L}, "
                "\\p{Lu}, \\p{Script=Latin})",
                "no such Unicode property (names as JavaScript spells them, e.g. \\p{L}, "
                "\\p{Lu}, \\p{Script=Latin})",
                start,
            )
        self.i = m.end()
        return CharSet(props=(f"\\{'P' if negated else 'p'}{{{name}}}",))


def _property(name: str, value: str | None) -> str | None:
    """ECMAScript's `\\p{name}` / `\\p{name=value}`, as regex spells it; None if JavaScript
    does not know it exactly so."""
    if value is None:
        return GENERAL_CATEGORY.get(name) or BINARY_PROPERTY.get(name)
    if name in ("General_Category", "gc"):
        return GENERAL_CATEGORY.get(value)
    key = {"sc": "Script", "scx": "Script_Extensions"}.get(name, name)
    if key not in ("Script", "Script_Extensions") or value not in SCRIPT:
        return None
    return f"{key}={SCRIPT[value]}"
