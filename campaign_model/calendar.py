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

    def is_ordinary_workday(self, day: dt.date) -> bool:
        """A working day that is not a make-up weekend day (调休上班): where a start or a deadline belongs."""
        return self.is_workday(day) and (self.kind == "all-days" or day.weekday() < 5)

    def why_not_ordinary(self, day: dt.date) -> tuple[str, str]:
        """(Chinese, English) words for what `day` is, when it is no ordinary working day."""
        weekday_zh, weekday_en = _WEEKDAYS[day.weekday()]
        name = self.holiday_name(day)
        if not self.is_workday(day):
            if name:
                return f"落在{name[0]}假期", f"falls in the {name[1]} holiday"
            if day in self.holidays:
                return "是节假日", "is a holiday"
            return f"是{weekday_zh}", f"is a {weekday_en}"
        if name:
            return f"是{name[0]}调休上班日（{weekday_zh}）", f"is a make-up working {weekday_en} of the {name[1]} holiday"
        return f"是调休上班日（{weekday_zh}）", f"is a make-up working {weekday_en}"

    def holiday_name(self, day: dt.date) -> tuple[str, str] | None:
        """(Chinese, English) name of the public holiday `day` is off for or made up for (cn data only)."""
        if self.kind != "cn":
            return None
        import chinese_calendar.constants as c

        if day in c.holidays:
            english = c.holidays[day]
        elif day in c.workdays and day.weekday() >= 5:
            english = c.workdays[day]
        else:
            return None
        return _HOLIDAY_ZH.get(english, english), english


_WEEKDAYS = [("周一", "Monday"), ("周二", "Tuesday"), ("周三", "Wednesday"), ("周四", "Thursday"),
             ("周五", "Friday"), ("周六", "Saturday"), ("周日", "Sunday")]
# the names chinese-calendar gives its holidays, as an official notice writes them
_HOLIDAY_ZH = {
    "New Year's Day": "元旦", "Spring Festival": "春节", "Tomb-sweeping Day": "清明节", "Labour Day": "劳动节",
    "Dragon Boat Festival": "端午节", "Mid-autumn Festival": "中秋节", "National Day": "国庆节",
    "Anti-Fascist 70th Day": "抗战胜利纪念日",
}
