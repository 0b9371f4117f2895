"""Finding a unit or an artifact kind by what a person types: its key, or its name (title), and the
closest matches when neither fits. Pure: callers pass the candidates as (key, name) pairs.

Administrators know their units by name (城东小学) far better than by code (chengdong-xiaoxue), and
spreadsheets exported from other systems carry names where a code is expected.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

Candidate = tuple[str, str]  # (key, name)


def _norm(text: str) -> str:
    # full-width and half-width spaces, case: what differs between a spreadsheet cell and a typed name
    return re.sub(r"[\s\u3000]+", "", text).casefold()


@dataclass(frozen=True)
class Match:
    """The outcome of a lookup: `key` when exactly one candidate fits; else `ambiguous` (several fit)
    or `suggestions` (none fits; the closest, best first)."""

    key: str | None
    ambiguous: tuple[Candidate, ...] = ()
    suggestions: tuple[Candidate, ...] = ()


def lookup(text: str, candidates: Sequence[Candidate], limit: int = 3) -> Match:
    """A key wins over a name (a key is what the field holds); then a unique name, compared ignoring
    spaces and case; else the ambiguity or the closest matches."""
    text = (text or "").strip()
    for key, _ in candidates:
        if key == text:
            return Match(key)
    wanted = _norm(text)
    named = tuple(c for c in candidates if _norm(c[1]) == wanted) or tuple(c for c in candidates if _norm(c[0]) == wanted)
    if len(named) == 1:
        return Match(named[0][0])
    if named:
        return Match(None, ambiguous=named)
    return Match(None, suggestions=tuple(closest(text, candidates, limit)))


def closest(text: str, candidates: Sequence[Candidate], limit: int = 3) -> list[Candidate]:
    """The candidates whose key or name looks most like `text`, best first; a name containing what was
    typed (城东小 in 城东小学) always counts, however short."""
    wanted = _norm(text)
    if not wanted:
        return []
    scored: list[tuple[float, int, Candidate]] = []
    for i, (key, name) in enumerate(candidates):
        best = 0.0
        for field in (_norm(key), _norm(name)):
            if not field:
                continue
            ratio = difflib.SequenceMatcher(None, wanted, field).ratio()
            if wanted in field or field in wanted:
                ratio = max(ratio, 0.75)
            best = max(best, ratio)
        if best >= 0.5:
            scored.append((-best, i, (key, name)))
    return [c for _, _, c in sorted(scored)[:limit]]


def describe(candidates: Iterable[Candidate]) -> str:
    """`key 名称, key 名称` — a key alone when the name adds nothing."""
    return ", ".join(key if not name or name == key else f"{key} {name}" for key, name in candidates)


def did_you_mean(suggestions: Sequence[Candidate]) -> str:
    """The hint appended to an unknown-name error, or "" when there is nothing close."""
    if not suggestions:
        return ""
    return f"；是否指 (did you mean): {describe(suggestions)}?"
