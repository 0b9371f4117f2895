"""考核: each unit's assessment, from three measures of its work, weighted as the spec says, and its grade
(seed 002: 优秀 / 较好 / 一般) and rank (排名). Pure: the facts come from `store.grades` as of an instant.

    assessment:
      weights: {on_time: 40, rejections: 20, closure: 40}   # non-negative, summing to 100
      grades:                                               # highest first; the last starts at 0
        - {name: 优秀, name_en: Excellent, min: 90}
        - {name: 较好, name_en: Good, min: 75}
        - {name: 一般, name_en: Fair, min: 0}
      in_notice: true                                       # the 通报 names the grades and the ranking

The three measures, each a share from 0 to 1 (kept exact, as fractions, so that a score of exactly 90
is 优秀 and never 89.99999):

- on_time (按时报送): of the unit's obligations due by the instant (in a phase already open, not
  waived: a waiver is the office's own decision), the share whose first filing came by its due instant
  (an extended due counts: 延期 is granted, not a lapse);
- rejections (退回): one less the unit's rejections per filing (退回 decisions over the versions it filed
  by the instant; a unit sent back on half its filings scores 0.5);
- closure (销号): of the unit's ledger items due by the instant (its current items, not 长期坚持), plus
  those closed early, the share closed (销号) by the instant.

A measure with nothing to measure (nothing due yet, nothing filed, no ledger item) is left out and the
other weights carry the score: a unit is not rewarded or punished for what it was never asked. A unit with
nothing measured at all has no score and no grade (未评), ranked after every graded unit. A spec without
`assessment:` is graded by `DEFAULT` (the weights above, 90 and 75), and its notice has no such section.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

MEASURES = ("on_time", "rejections", "closure")
MEASURE_ZH = {"on_time": "按时报送", "rejections": "未退回率", "closure": "台账销号"}
MEASURE_EN = {"on_time": "On-time filing", "rejections": "Not returned", "closure": "Ledger closure"}
UNGRADED = {"zh": "未评", "en": "Not graded"}


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Weights(_Model):
    """How much each measure counts, in points out of 100 (checked in specfile: they sum to 100)."""

    on_time: float = Field(default=40, ge=0)
    rejections: float = Field(default=20, ge=0)
    closure: float = Field(default=40, ge=0)


class Grade(_Model):
    name: str = Field(min_length=1)
    name_en: str | None = None
    min: float = Field(ge=0, le=100)  # the lowest score of the grade, inclusive


class Assessment(_Model):
    """考核: the weights of the three measures and the grades by score (see the module docstring)."""

    weights: Weights = Field(default_factory=Weights)
    grades: list[Grade] = Field(min_length=1)
    in_notice: bool = False


# a campaign whose spec has no `assessment:` is graded so (seed 002's grades; never in its notice)
DEFAULT = Assessment(grades=[Grade(name="优秀", name_en="Excellent", min=90), Grade(name="较好", name_en="Good", min=75),
                             Grade(name="一般", name_en="Fair", min=0)])


@dataclass(frozen=True)
class UnitFacts:
    """What the store counts for one unit as of an instant."""

    unit: str
    name: str
    parent: str | None
    parent_name: str | None
    due: int  # obligations due by the instant (open phases, not waived)
    on_time: int  # of those, first filed by their due instant
    filings: int  # versions filed by the instant
    rejections: int  # 退回 decisions on them by the instant
    items: int  # ledger items counted: due by the instant, or closed by it
    closed: int  # of those, closed (销号) by the instant


@dataclass(frozen=True)
class UnitGrade:
    facts: UnitFacts
    measures: dict[str, Fraction | None]  # each measure's share, None when there is nothing to measure
    score: Fraction | None  # 0..100
    grade: Grade | None
    rank: int | None  # 1 for the best; equal scores share a rank (1, 2, 2, 4); None: not graded

    def as_dict(self, lang: str = "zh") -> dict[str, Any]:
        """Plain data for pages, reports and the API: shares and score rounded for people (0.1)."""
        f = self.facts
        return {"rank": self.rank, "unit": f.unit, "unit_name": f.name, "parent": f.parent, "parent_name": f.parent_name,
                **{m: _share(v) for m, v in self.measures.items()},
                "score": None if self.score is None else round(float(self.score), 1),
                "grade": grade_name(self.grade, lang),
                "counts": {"due": f.due, "on_time": f.on_time, "filings": f.filings, "rejections": f.rejections,
                           "items": f.items, "closed": f.closed}}


def _share(v: Fraction | None) -> float | None:
    return None if v is None else round(float(v), 4)


def grade_name(grade: Grade | None, lang: str = "zh") -> str:
    if grade is None:
        return UNGRADED[lang]
    return (grade.name_en or grade.name) if lang == "en" else grade.name


def measures(f: UnitFacts) -> dict[str, Fraction | None]:
    """The three shares of a unit (see the module docstring); None where there is nothing to measure."""
    return {
        "on_time": Fraction(f.on_time, f.due) if f.due else None,
        "rejections": max(Fraction(0), 1 - Fraction(f.rejections, f.filings)) if f.filings else None,
        "closure": Fraction(f.closed, f.items) if f.items else None,
    }


def score(shares: dict[str, Fraction | None], weights: Weights) -> Fraction | None:
    """The weighted mean of the measured shares, out of 100; None when nothing weighed was measured."""
    weighed = [(Fraction(str(getattr(weights, m))), v) for m, v in shares.items() if v is not None]
    total = sum((w for w, _ in weighed), Fraction(0))
    if not total:
        return None
    return 100 * sum((w * v for w, v in weighed), Fraction(0)) / total


def grade_of(value: Fraction | None, grades: list[Grade]) -> Grade | None:
    """The first grade (highest first) whose `min` the score reaches."""
    if value is None:
        return None
    return next((g for g in grades if value >= Fraction(str(g.min))), None)


def assess(facts: list[UnitFacts], assessment: Assessment) -> list[UnitGrade]:
    """Every unit scored, graded and ranked: best first; equal scores share a rank, in the order given
    (the unit list's); units without a score come last, unranked."""
    scored = []
    for f in facts:
        shares = measures(f)
        s = score(shares, assessment.weights)
        scored.append((f, shares, s, grade_of(s, assessment.grades)))
    order = sorted(range(len(scored)), key=lambda i: (scored[i][2] is None, -(scored[i][2] or 0), i))
    out: list[UnitGrade] = []
    for pos, i in enumerate(order, start=1):
        f, shares, s, g = scored[i]
        rank = None
        if s is not None:
            rank = out[-1].rank if out and out[-1].score == s else pos
        out.append(UnitGrade(f, shares, s, g, rank))
    return out


def notice_lines(ranked: list[UnitGrade], assessment: Assessment, lang: str = "zh") -> list[str]:
    """The 通报's section on the assessment: the units of the top grade and of the bottom grade named in rank
    order (commended and criticized: 表扬 and 通报批评), the grades between only counted (neither is news), and
    how many were not yet graded. In the campaign's language only."""
    graded = [u for u in ranked if u.grade is not None]
    if not graded:
        return ["暂无可评定的单位。" if lang == "zh" else "No unit can be graded yet."]
    grades = assessment.grades
    top, bottom = grades[0], grades[-1]
    by = {g.name: [u for u in graded if u.grade is g] for g in grades}
    counts = ("，".join(f"{g.name} {len(by[g.name])} 个" for g in grades) if lang == "zh"
              else ", ".join(f"{len(by[g.name])} {grade_name(g, 'en')}" for g in grades))
    lines = [f"按考核得分排名，共评定 {len(graded)} 个单位：{counts}。" if lang == "zh"
             else f"By assessment score, {len(graded)} unit(s) graded: {counts}."]

    def named(units: list[UnitGrade]) -> str:
        sep = "、" if lang == "zh" else ", "
        return sep.join(f"{u.facts.name}（{float(u.score or 0):.1f}）" if lang == "zh"
                        else f"{u.facts.name} ({float(u.score or 0):.1f})" for u in units)

    if by[top.name]:
        lines.append(f"{top.name}：{named(by[top.name])}。" if lang == "zh"
                     else f"{grade_name(top, 'en')}: {named(by[top.name])}.")
    if bottom is not top and by[bottom.name]:
        worst = sorted(by[bottom.name], key=lambda u: (u.score or 0))
        lines.append(f"{bottom.name}（得分由低到高）：{named(worst)}。" if lang == "zh"
                     else f"{grade_name(bottom, 'en')} (lowest first): {named(worst)}.")
    ungraded = len(ranked) - len(graded)
    if ungraded:
        lines.append(f"另有 {ungraded} 个单位尚无可评定的事项，暂不评定。" if lang == "zh"
                     else f"{ungraded} unit(s) have nothing to assess yet and are not graded.")
    return lines
