"""Working-day calendars: Chinese public holidays with make-up working days (调休), weekdays, all days.

The `cn` calendar reads the official data shipped by the `chinese-calendar` package. For a year the
package does not cover, weekdays stand in and `covers(year)` says so; a spec may give the official
days itself (`holidays`, `workdays`), which always win over the package and the weekday rule.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache

CALENDAR_KINDS = ("cn", "weekdays", "all-days")


@lru_cache(maxsize=1)
def _cn_data() -> tuple[frozenset[dt.date], frozenset[dt.date], frozenset[int]]:
    import chinese_calendar.constants as c

    holidays = frozenset(c.holidays)
    workdays = frozenset(d for d in c.workdays if d.weekday() >= 5)  # only the make-up days matter
    # a year counts as covered when the package lists its Spring Festival or National Day
    years = frozenset(d.year for d in holidays if d.month in (1, 2, 10))
    return holidays, workdays, years


def cn_covered_years() -> frozenset[int]:
    return _cn_data()[2]


@dataclass(frozen=True)
class WorkCalendar:
    kind: str = "cn"
    holidays: frozenset[dt.date] = field(default_factory=frozenset)
    workdays: frozenset[dt.date] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        if self.kind not in CALENDAR_KINDS:
            raise ValueError(f"unknown calendar kind {self.kind!r}")

    def covers(self, year: int) -> bool:
        """True when official data (package or spec) exists for `year`, or no data is needed."""
        if self.kind != "cn":
            return True
        if year in cn_covered_years():
            return True
        return any(d.year == year for d in self.holidays)

    def uncovered_years(self, years: Iterable[int]) -> list[int]:
        return sorted({y for y in years if not self.covers(y)})

    def is_workday(self, day: dt.date) -> bool:
        if day in self.workdays:
            return True
        if day in self.holidays:
            return False
        if self.kind == "all-days":
            return True
        if self.kind == "cn":
            cn_holidays, cn_workdays, _ = _cn_data()
            if day in cn_workdays:
                return True
            if day in cn_holidays:
                return False
        return day.weekday() < 5

    def add_workdays(self, day: dt.date, n: int) -> dt.date:
        """The n-th working day after `day` (before it when n < 0); `day` itself when n == 0."""
        step = 1 if n >= 0 else -1
        remaining = abs(n)
        current = day
        while remaining:
            current += dt.timedelta(days=step)
            if self.is_workday(current):
                remaining -= 1
        return current

    def workday_on_or_before(self, day: dt.date) -> dt.date:
        while not self.is_workday(day):
            day -= dt.timedelta(days=1)
        return day

    def workday_on_or_after(self, day: dt.date) -> dt.date:
        while not self.is_workday(day):
            day += dt.timedelta(days=1)
        return day
