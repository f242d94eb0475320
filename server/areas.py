"""The area tree (dotted paths, parent before child) and Vietnam's official unit registry.

An area is a dotted path of any depth: ``01`` contains ``01.00070``, ``HN`` contains
``HN.BD.PX``; ``""`` is the root and contains everything. Paths are case-sensitive.
The registry holds the units in force since the July 2025 reorganisation, from the
``vietnam_provinces`` package: ``PP`` is a province (2-digit code) and ``PP.WWWWW`` a
commune or ward (5-digit code) in it. Paths outside the registry are valid areas too.
"""

from __future__ import annotations

import re
import unicodedata
from functools import cache
from typing import NamedTuple

MAX_DEPTH = 8
_SEGMENT = re.compile(r"[A-Za-z0-9_-]{1,32}")
_WORD = re.compile(r"\w+")
_CODE = re.compile(r"[0-9]{1,5}")
# Dropped from a unit's folded name so "hoan kiem" is an exact match for "Phường Hoàn Kiếm".
_TYPE_PREFIXES = ("thanh pho ", "tinh ", "phuong ", "xa ", "dac khu ")


class AreaError(ValueError):
    """An area path that is not well formed."""


def parse(path: str) -> str:
    """Return the canonical form of ``path`` (surrounding whitespace removed), or raise."""
    path = path.strip()
    if not path:
        raise AreaError("area path is empty")
    segments = path.split(".")
    if len(segments) > MAX_DEPTH:
        raise AreaError(f"area path {path!r} has {len(segments)} segments, at most {MAX_DEPTH}")
    for position, segment in enumerate(segments, 1):
        if not segment:
            raise AreaError(f"area path {path!r} has an empty segment at position {position}")
        if not _SEGMENT.fullmatch(segment):
            raise AreaError(
                f"area path {path!r}: segment {segment!r} must be 1 to 32 characters "
                "among A-Z, a-z, 0-9, '_' and '-'"
            )
    return path


def contains(ancestor: str, path: str) -> bool:
    """True when ``path`` is ``ancestor`` or below it; ``"01"`` does not contain ``"012"``."""
    return ancestor == "" or path == ancestor or path.startswith(ancestor + ".")


def reaches(role: str, user_area: str, area: str) -> bool:
    """Whether a user of `role` in `user_area` sees and edits records of `area`: an officer
    those of its own area only (PROTOCOL: "bound to one area"), a supervisor or an admin
    those of its area and everything below it."""
    return area == user_area if role == "officer" else contains(user_area, area)


def sql_prefix(area: str) -> str:
    """The prefix every strict descendant of ``area`` starts with: ``area + "."``.

    Match an area and everything below it with ``path = :area OR path GLOB :prefix || '*'``,
    or, index-friendly, ``path = :area OR (path >= :prefix AND path < :area || '/')``
    (``'/'`` sorts right after ``'.'``). GLOB is safe because segments cannot hold its
    wildcards; LIKE is not, as ``_`` is a LIKE wildcard and LIKE ignores case. For the
    root ``""`` this returns ``""``: skip the filter, everything matches.
    """
    return area + "." if area else ""


def fold(text: str) -> str:
    """Lowercase, strip diacritics (đ becomes d) and collapse whitespace, for matching."""
    decomposed = unicodedata.normalize("NFD", text.lower())
    bare = "".join(c for c in decomposed if unicodedata.category(c) != "Mn")
    return " ".join(bare.replace("đ", "d").split())


class _Unit(NamedTuple):
    path: str
    full_name: str
    own: str  # the unit's own name, folded
    bare: str  # ``own`` without its type word ("phuong", "xa", ...)
    words: tuple[str, ...]  # words of the folded full name


def _unit(path: str, own_name: str, full_name: str) -> _Unit:
    full_name = " ".join(full_name.split())  # the source has a few doubled spaces
    own = fold(own_name)
    bare = next((own[len(p) :] for p in _TYPE_PREFIXES if own.startswith(p)), own)
    return _Unit(path, full_name, own, bare, tuple(_WORD.findall(fold(full_name))))


@cache
def _registry() -> dict[str, _Unit]:
    import vietnam_provinces  # imported here: it takes tens of milliseconds

    units: dict[str, _Unit] = {}
    provinces: dict[int, str] = {}
    for province in vietnam_provinces.Province.iter_all():
        path = f"{int(province.code):02d}"
        provinces[int(province.code)] = province.name
        units[path] = _unit(path, province.name, province.name)
    for ward in vietnam_provinces.Ward.iter_all():
        path = f"{int(ward.province_code):02d}.{int(ward.code):05d}"
        full_name = f"{ward.name}, {provinces[int(ward.province_code)]}"
        units[path] = _unit(path, ward.name, full_name)
    return units


def name(path: str) -> str | None:
    """The official full name of ``path``, or None when it is not in the registry."""
    unit = _registry().get(path)
    return unit.full_name if unit else None


def is_official(path: str) -> bool:
    """True when ``path`` is a province or commune of the official registry."""
    return path in _registry()


def _code_matches(unit: _Unit, code: str) -> bool:
    # "01.00070" matches itself; a code written in full matches its own level only (2 digits a
    # province's, 5 a commune's: "00037" is a commune, never province 37); a shorter number
    # also matches the longer codes it is the number of ("70", "070" and "0070" are 00070)
    own = unit.path.rsplit(".", 1)[-1]
    return (
        unit.path == code
        or code == own
        or (_CODE.fullmatch(code) is not None and len(code) < len(own) and int(own) == int(code))
    )


def search(text: str, limit: int = 20) -> list[tuple[str, str]]:
    """Official units whose full name holds every word of ``text`` (as a word prefix,
    ignoring case and diacritics) or whose code is ``text``, as ``(path, full name)``.

    Ranked: exact name or code first, then units whose own name starts with the text,
    then the rest; ties by path. An empty or blank query finds nothing.
    """
    query = fold(text)
    terms = _WORD.findall(query)
    if not terms or limit <= 0:
        return []
    ranked: list[tuple[int, str, str]] = []
    for unit in _registry().values():
        if _code_matches(unit, query):
            rank = 0
        elif all(any(w.startswith(t) for w in unit.words) for t in terms):
            if query in (unit.own, unit.bare, fold(unit.full_name)):
                rank = 0
            elif unit.own.startswith(query) or unit.bare.startswith(query):
                rank = 1
            else:
                rank = 2
        else:
            continue
        ranked.append((rank, unit.path, unit.full_name))
    ranked.sort()
    return [(path, full_name) for _, path, full_name in ranked[:limit]]
