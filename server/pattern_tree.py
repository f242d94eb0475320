"""A text pattern's syntax tree, what JavaScript's classes and `\\p{...}` names stand for in it,
and the tree written as the `regex` module's syntax (Python spells or means `\\s`, `.`, `$`,
`\\d \\w \\b`, `\\p{...}` differently; server/redos.py writes it for Python's re too).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# What JavaScript's \s, \d, \w and line terminators are (the u flag, no i flag).
SPACE = (
    (0x09, 0x0D),
    (0x20, 0x20),
    (0xA0, 0xA0),
    (0x1680, 0x1680),
    (0x2000, 0x200A),
    (0x2028, 0x2029),
    (0x202F, 0x202F),
    (0x205F, 0x205F),
    (0x3000, 0x3000),
    (0xFEFF, 0xFEFF),
)
DIGIT = ((0x30, 0x39),)
WORD = ((0x30, 0x39), (0x41, 0x5A), (0x5F, 0x5F), (0x61, 0x7A))
LINE_TERMINATORS = ((0x0A, 0x0A), (0x0D, 0x0D), (0x2028, 0x2029))
DIGITS = "0123456789"  # str.isdigit and re's \d take other scripts' digits too
SYNTAX = "^$\\.*+?()[]{}|/"  # what `\` may escape to itself with the u flag

# \p{...}: ECMAScript's names, exact (the regex module also takes loose spellings that
# JavaScript refuses, so a name is checked here, then written as regex spells it).
_CATEGORIES = (
    "C Other, Cc Control cntrl, Cf Format, Cn Unassigned, Co Private_Use, Cs Surrogate, "
    "L Letter, LC Cased_Letter, Ll Lowercase_Letter, Lm Modifier_Letter, Lo Other_Letter, "
    "Lt Titlecase_Letter, Lu Uppercase_Letter, M Mark Combining_Mark, Mc Spacing_Mark, "
    "Me Enclosing_Mark, Mn Nonspacing_Mark, N Number, Nd Decimal_Number digit, "
    "Nl Letter_Number, No Other_Number, P Punctuation punct, Pc Connector_Punctuation, "
    "Pd Dash_Punctuation, Pe Close_Punctuation, Pf Final_Punctuation, Pi Initial_Punctuation, "
    "Po Other_Punctuation, Ps Open_Punctuation, S Symbol, Sc Currency_Symbol, "
    "Sk Modifier_Symbol, Sm Math_Symbol, So Other_Symbol, Z Separator, Zl Line_Separator, "
    "Zp Paragraph_Separator, Zs Space_Separator"
)


def _aliases(table: str) -> dict[str, str]:
    """Every spelling of each entry ("Lu Uppercase_Letter, ...") -> its first, short one."""
    return {name: names.split()[0] for names in table.split(", ") for name in names.split()}


GENERAL_CATEGORY = _aliases(_CATEGORIES)
_BINARY = (
    "ASCII, ASCII_Hex_Digit AHex, Alphabetic Alpha, Any, Assigned, Bidi_Control Bidi_C, "
    "Bidi_Mirrored Bidi_M, Case_Ignorable CI, Cased, Changes_When_Casefolded CWCF, "
    "Changes_When_Casemapped CWCM, Changes_When_Lowercased CWL, Changes_When_Titlecased CWT, "
    "Changes_When_Uppercased CWU, Dash, Default_Ignorable_Code_Point DI, Deprecated Dep, "
    "Diacritic Dia, Emoji, Emoji_Component EComp, Emoji_Modifier EMod, "
    "Emoji_Modifier_Base EBase, Emoji_Presentation EPres, Extended_Pictographic ExtPict, "
    "Extender Ext, Grapheme_Base Gr_Base, Grapheme_Extend Gr_Ext, Hex_Digit Hex, "
    "IDS_Binary_Operator IDSB, IDS_Trinary_Operator IDST, ID_Continue IDC, ID_Start IDS, "
    "Ideographic Ideo, Join_Control Join_C, Logical_Order_Exception LOE, Lowercase Lower, "
    "Math, Noncharacter_Code_Point NChar, Pattern_Syntax Pat_Syn, Pattern_White_Space Pat_WS, "
    "Quotation_Mark QMark, Radical, Regional_Indicator RI, Sentence_Terminal STerm, "
    "Soft_Dotted SD, Terminal_Punctuation Term, Unified_Ideograph UIdeo, Uppercase Upper, "
    "Variation_Selector VS, White_Space space, XID_Continue XIDC, XID_Start XIDS"
)
BINARY_PROPERTY = _aliases(_BINARY)
# Scripts for \p{Script=...} and \p{Script_Extensions=...}: those of Vietnam's languages and
# the widest spread, each with its four-letter alias (others are refused, not guessed at).
_SCRIPTS = (
    "Latin Latn, Han Hani, Common Zyyy, Inherited Zinh Qaai, Cham, Tai_Viet Tavt, Khmer Khmr, "
    "Thai, Lao Laoo, Tai_Le Tale, New_Tai_Lue Talu, Tai_Tham Lana, Myanmar Mymr, Yi Yiii, "
    "Bopomofo Bopo, Hangul Hang, Hiragana Hira, Katakana Kana, Greek Grek, Cyrillic Cyrl, "
    "Armenian Armn, Georgian Geor, Hebrew Hebr, Arabic Arab, Devanagari Deva, Bengali Beng, "
    "Tamil Taml, Tibetan Tibt, Mongolian Mong, Ethiopic Ethi"
)
SCRIPT = _aliases(_SCRIPTS)


# --- the syntax tree ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CharSet:
    """Characters one position may hold: code point ranges and `\\p{...}`, maybe negated."""

    ranges: tuple[tuple[int, int], ...] = ()
    props: tuple[str, ...] = ()  # as regex spells them: `\p{Lu}`, `\P{Script=Latin}`
    negated: bool = False

    @property
    def single(self) -> int | None:
        """The one character of a plain literal (a range may start or end only at one)."""
        if len(self.ranges) == 1 and not self.props and not self.negated:
            lo, hi = self.ranges[0]
            return lo if lo == hi else None
        return None


@dataclass(frozen=True, slots=True)
class Assert:
    kind: str  # ^ $ b B


@dataclass(frozen=True, slots=True)
class Look:
    behind: bool
    negative: bool
    body: Alt


@dataclass(frozen=True, slots=True)
class Repeat:
    body: CharSet | Alt
    low: int
    high: int | None
    lazy: bool


@dataclass(frozen=True, slots=True)
class Alt:
    branches: tuple[tuple[Node, ...], ...]  # each branch a sequence


Node = CharSet | Assert | Look | Repeat | Alt


# --- translation ----------------------------------------------------------------------------

_WORD_CLASS = "[0-9A-Z_a-z]"
_ASSERTIONS = {
    "^": "^",
    "$": r"\Z",  # Python's $ also matches before a final newline
    "b": f"(?:(?<={_WORD_CLASS})(?!{_WORD_CLASS})|(?<!{_WORD_CLASS})(?={_WORD_CLASS}))",
    "B": f"(?:(?<={_WORD_CLASS})(?={_WORD_CLASS})|(?<!{_WORD_CLASS})(?!{_WORD_CLASS}))",
}


def literal(cp: int) -> str:
    c = chr(cp)
    if c.isascii() and c.isalnum():
        return c
    return f"\\x{cp:02x}" if cp < 0x100 else f"\\u{cp:04x}" if cp < 0x10000 else f"\\U{cp:08x}"


def class_text(cs: CharSet) -> str:
    if cs.single is not None:
        return literal(cs.single)
    if not cs.ranges and not cs.props:
        return "[\\x00-\\U0010ffff]" if cs.negated else "(?!)"
    body = "".join(literal(lo) + ("" if lo == hi else "-" + literal(hi)) for lo, hi in cs.ranges)
    return f"[{'^' if cs.negated else ''}{body}{''.join(cs.props)}]"


def emit(node: Node, chars: Any = class_text, *, probe: bool = False) -> str:
    """The tree as Python regex syntax; `chars` writes each CharSet (`probe`: for
    server/redos.py, in Python's re as V8 would backtrack)."""
    if isinstance(node, CharSet):
        return chars(node)  # type: ignore[no-any-return]
    if isinstance(node, Assert):
        return _ASSERTIONS[node.kind]
    if isinstance(node, Alt):
        return "(?:" + "|".join(_branch(b, chars, probe) for b in node.branches) + ")"
    if isinstance(node, Look):
        if probe and node.behind and len(set(widths(node.body))) != 1:
            return ""  # Python's re looks behind by a fixed width only; a probe can do without
        head = ("(?<" if node.behind else "(?") + ("!" if node.negative else "=")
        return head + emit(node.body, chars, probe=probe) + ")"
    count = {(0, None): "*", (1, None): "+", (0, 1): "?"}.get((node.low, node.high))
    if count is None:
        high = "" if node.high is None else str(node.high)
        count = f"{{{node.low}}}" if node.high == node.low else f"{{{node.low},{high}}}"
    return emit(node.body, chars, probe=probe) + count + ("?" if node.lazy else "")


def _branch(branch: tuple[Node, ...], chars: Any, probe: bool) -> str:
    text = "".join(emit(n, chars, probe=probe) for n in branch)
    if probe and len(branch) == 1 and isinstance(branch[0], CharSet) and branch[0].single is None:
        # Python's re merges classes given as alternatives, (\p{L}|[A-Z]), into one class,
        # which backtracks once; V8 tries each: an empty lookahead keeps them apart.
        text += "(?=)"
    return text


def size(node: Node) -> int:
    """How many characters, classes and assertions `node` is with its counts written out."""
    if isinstance(node, CharSet | Assert):
        return 1
    if isinstance(node, Look):
        return size(node.body)
    if isinstance(node, Repeat):
        return max(node.low, node.high or 0, 1) * size(node.body)
    return sum(size(n) for branch in node.branches for n in branch)


def paths(node: Node, n: int) -> int | None:
    """How many ways a backtracking engine can try `node` from one position of a text of `n`
    characters, at most; None when it has no such bound: a repetition of anything but one
    character (a group, which can be split many ways) or a lookaround. A repetition of one
    character is tried at each of its counts, an alternation branch by branch, a sequence
    as every combination of its parts'."""
    if isinstance(node, CharSet | Assert):
        return 1
    if isinstance(node, Look):
        return None
    if isinstance(node, Repeat):
        if not isinstance(node.body, CharSet):
            return None
        high = n if node.high is None else min(node.high, n)
        return max(high - node.low + 1, 1)
    total = 0
    for branch in node.branches:
        ways = 1
        for part in branch:
            found = paths(part, n)
            if found is None:
                return None
            ways *= found
        total += ways
    return total


def widths(node: Node) -> list[int | None]:
    """The lengths a node can match (None: unbounded); for fixed-width lookbehinds."""
    if isinstance(node, CharSet):
        return [1]
    if isinstance(node, Assert | Look):
        return [0]
    if isinstance(node, Repeat):
        inner = set(widths(node.body))
        if node.high is None or None in inner:
            return [None] if inner != {0} else [0]
        return [w * n for w in inner for n in (node.low, node.high)]  # type: ignore[operator]
    out: list[int | None] = []
    for branch in node.branches:
        total: int | None = 0
        for n in branch:
            ws = set(widths(n))
            if len(ws) != 1 or None in ws or total is None:
                return [None, 0]
            total += ws.pop()  # type: ignore[operator]
        out.append(total)
    return out
