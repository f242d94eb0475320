"""Sample text patterns, shared by the server's tests (tests/unit/test_patterns.py) and the
browser's (tests/browser/test_patterns.py), which checks each against Chromium's own RegExp."""

from __future__ import annotations

# (pattern, value, whether `new RegExp(pattern, 'u').test(value)`)
MATCHES: list[tuple[str, str, bool]] = [
    (r"^\d{3}$", "123", True),
    (r"^\d{3}$", "١٢٣", False),  # Arabic-Indic digits are not \d
    (r"^\w+$", "abc_1", True),
    (r"^\w+$", "ễ", False),  # nor is a Vietnamese letter \w
    (r"^n\b", "năm", True),  # \b sees ASCII word characters only
    (r"\bab\b", "x ab y", True),
    (r"\bab\b", "xab", False),
    (r"a\Bb", "ab", True),
    (r"^a\sb$", "a\u00a0b", True),  # no-break space
    (r"^a\sb$", "a\u3000b", True),  # ideographic space
    (r"^a\sb$", "a\ufeffb", True),
    (r"^a\sb$", "a\u2028b", True),
    (r"^a\sb$", "a\vb", True),
    (r"^a\sb$", "a\u200bb", False),  # a zero-width space is no space
    (r"^a\sb$", "a\x1cb", False),  # Python's \s holds these three, JavaScript's not
    (r"^a\sb$", "a\x85b", False),
    (r"^a\sb$", "a\u180eb", False),
    (r"^\S$", "\u00a0", False),
    (r"^\S$", "a", True),
    (r"^[\S]$", "a", True),
    (r"^[^\S]$", "\u3000", True),
    (r"^[\s\d]+$", "1\u00a02", True),
    (r"^[^\s\d]+$", "ab", True),
    (r"^[\D]+$", "ab", True),
    (r"^[\W]+$", "ễ!", True),
    (r"^.$", "\n", False),
    (r"^.$", "\r", False),
    (r"^.$", "\u2028", False),
    (r"^.$", "\u2029", False),
    (r"^.$", "\x85", True),
    (r"^.$", "\v", True),
    (r"^.$", "😀", True),  # one code point with the u flag
    (r"^ab$", "ab\n", False),  # $ is the very end
    (r"^ab$", "ab", True),
    (r"^b", "ab", False),
    (r"ab", "xxabxx", True),  # anywhere in the value
    (r"^hn", "HN", False),  # no flags: case counts
    (r"^\u{1F600}$", "😀", True),
    (r"^\uD83D\uDE00$", "😀", True),  # a surrogate pair is one code point
    (r"^[\uD83D\uDE00-\uD83D\uDE4F]$", "😃", True),
    (r"^[\u{1F600}-\u{1F64F}]+$", "😀😃", True),
    (r"^\u00e0$", "à", True),
    (r"^\x41\cJ$", "A\n", True),
    (r"^\p{L}+$", "Nguyễn", True),
    (r"^\p{L}+$", "Nguyễn Văn", False),
    (r"^\p{L}+( \p{L}+)*$", "Nguyễn Văn An", True),
    (r"^\p{Lu}", "Đinh", True),
    (r"^\p{Letter}+$", "Đinh", True),
    (r"^\p{gc=Ll}+$", "đinh", True),
    (r"^\P{L}+$", "123", True),
    (r"^\p{Script=Latin}+$", "Việt", True),
    (r"^\p{sc=Han}+$", "中文", True),
    (r"^\p{scx=Hani}+$", "中文", True),
    (r"^[\p{L}\s]+$", "Nguyễn\u00a0Văn An", True),
    (r"^[^\p{L}]+$", "12", True),
    (r"^\p{Nd}+$", "١٢٣", True),
    (r"^\p{White_Space}$", "\x85", True),
    (r"^\p{Emoji_Presentation}$", "😀", True),
    (r"^[A-Za-zÀ-ỹ\s]+$", "Nguyễn\u00a0Văn An", True),
    (r"^[A-Za-zÀ-ỹ]+(\s[A-Za-zÀ-ỹ]+)*$", "Trần\u3000Bình", True),
    (r"^[]$", "a", False),  # an empty class matches nothing
    (r"^[^]$", "\n", True),  # and its negation anything
    (r"^[\]a]+$", "]a", True),
    (r"^a[$]b$", "a$b", True),
    (r"^x\$$", "x$", True),
    (r"^x\$$", "x$\n", False),
    (r"^[\-a]+$", "-a", True),
    (r"^[a-]+$", "-", True),
    (r"^[\w-]+$", "a-b", True),
    (r"^[\b]$", "\b", True),
    (r"^\/\.\*$", "/.*", True),
    (r"^(?<so>[0-9]+)-(?<ma>[A-Z]+)$", "12-AB", True),
    (r"^(?:ab)+$", "abab", True),
    (r"^(a|bc)+$", "abca", True),
    (r"^a+?$", "aaa", True),
    (r"^a{2,}$", "a", False),
    (r"^a{0}b$", "b", True),
    (r"^(?!0+$)\d+$", "000", False),
    (r"^(?!0+$)\d+$", "012", True),
    (r"(?<=\$)\d+", "$12", True),
    (r"(?<!\$)\b\d+", "$12", False),
    (r"(?<=a+)b", "aab", True),
    (r"^0[0-9]{9,10}$", "0912345678", True),
    (r"^0[0-9]{9,10}$", "0912345678\n", False),
    (r"^0[0-9]{9,10}$", "\uff10912345678", False),  # a fullwidth digit
]

# Refused here, and JavaScript cannot compile them either (Python's syntax, mostly).
NOT_JAVASCRIPT = [
    r"(?i)^hn[0-9]+$",
    r"^[0-9]{,3}$",
    r"\Aab\Z",
    r"(?P<x>a)",
    r"(?P<x>a)(?P=x)",
    r"a*+",
    r"a++",
    r"(?>a)",
    r"(?#note)a",
    r"[0-9",
    r"(",
    r")",
    r"a{2,1}",
    r"*",
    r"]",
    r"}",
    r"{",
    r"a{",
    r"x{2",
    "a{\u0661}",  # an Arabic-Indic digit is no count
    r"a**",
    r"a{2}{3}",
    r"\q",
    r"\c1",
    r"\x4",
    r"\u12",
    r"\u{110000}",
    r"[\d-z]",
    r"[z-a]",
    r"\-",
    r"^*",
    r"(?=a)*",
    r"\b+",
    r"(?<a>x)(?<a>y)",
    r"\01",
    r"[\1]",
    r"\1",
    r"\k<x>",
    r"\p{letter}",
    r"\p{Script=latin}",
    r"\p{L",
    r"\p",
    r"\z",
]

# Refused here though JavaScript compiles them: matched differently (backreferences), never
# matching text (a lone surrogate), or outside what is checked (long counts, names).
REFUSED_VALID_JAVASCRIPT = [
    r"(a)\1",
    r"(?<x>a)\k<x>",
    r"(?i:hn)",  # modifiers: new in ECMAScript 2025, older phones lack them
    r"\uD800",
    r"a{1001}",
    r"(?<số>a)",
    r"\p{Script=Runic}",
    r"\p{Changes_When_NFKC_Casefolded}",
]

# Exponential (or high polynomial) time in a backtracking engine, as the phone's: refused (the
# first ten exponential, timed in Chromium by tests/browser/test_patterns.py).
SLOW = [
    r"^([A-Za-z]+\s?)+$",
    r"^(a+)+$",
    r"^(a|aa)+$",
    r"^(\w+\s?)*$",
    r"^(\s*\w+\s*)+$",
    r"^HN-([0-9]+)+$",
    # a branch of several characters that repetitions of another spell too ("ngh" is 3 letters)
    r"^(?:\p{L}|ngh)+$",
    r"^(?:[\p{L} ]|ngh)+$",
    r"^(?:x|abc|abc)+$",
    r"^(?:ab|a|ba)+$",  # "aba" is ab a or a ba
    r"^(ab|a|b)+$",
    r"^(\p{L}|[A-Z])+$",
    r"^([A-Za-zÀ-ỹ]+ ?)+$",
    r"^(([a-z])+.)+[A-Z]([a-z])+$",
    r"(\d+)*x",
    r"^\d*\d*\d*\d*x$",
    r".*.*=.*",
]
# The same inside a lookbehind of varying width, which a phone matches backwards (published,
# and 6 s on a phone for 29 characters: found by a probe), with a text that is slow in
# Chromium (the probe's, but where V8 first looks for what follows the lookbehind).
SLOW_BEHIND = {
    r"^.*(?<!^(\w+\s?)+\.)$": "!" + "a" * 40 + ".",
    r"(?<!^(a+)+b)x": "!" + "a" * 40 + "bx",
    r"(?<=^(a+)+b)x": "!" + "a" * 40 + "bx",
    r"^.+(?<=^(?:ab|a|ba)+c)$": "!" + "aba" * 40 + "c",
    r"(?<=(?=(a+)+$)a*)b": "a" * 40 + "b",  # a lookahead inside: forwards (a probe)
}
SLOW += list(SLOW_BEHIND)

# Common patterns that must stay accepted.
SAFE = [
    r"^[0-9]{9,12}$",
    r"^0[0-9]{9}$",
    r"^0[0-9]{9,10}$",
    r"^[A-Za-zÀ-ỹ\s]+$",
    r"^[A-Za-zÀ-ỹ]+(\s[A-Za-zÀ-ỹ]+)*$",
    r"^\p{L}+( \p{L}+)*$",
    r"^\p{Lu}\p{Ll}*(\s\p{Lu}\p{Ll}*)*$",
    r"^(\+84|0)(3|5|7|8|9)[0-9]{8}$",
    r"^[0-9]{2}[A-Z][0-9]?-[0-9]{3}\.?[0-9]{2}$",
    r"^(0[1-9]|[12][0-9]|3[01])/(0[1-9]|1[0-2])/[0-9]{4}$",
    r"^[a-z0-9._%+-]+@[a-z0-9.-]+\.[a-z]{2,}$",
    r"^[^@\s]+@[^@\s]+\.[^@\s]+$",
    r"^(?!0+$)\d{9,12}$",
    r"^\d{3}-\d{4}$",
    r"^[A-Z]{2}[0-9]{2}$",
    r"^[a-z]+$",
    r"x",
    r"",
]
