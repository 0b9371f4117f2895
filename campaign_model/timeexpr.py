"""Durations ("3 days", "1 workday") and due expressions ("start + 10 workdays", "end - 3 days").

Pure parsing and arithmetic: a due expression resolves, through a calendar and a time zone, to one
instant. A date alone means the end of that local day.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from .calendar import WorkCalendar

_UNITS = {
    "day": "days", "days": "days", "天": "days", "日": "days",
    "workday": "workdays", "workdays": "workdays", "工作日": "workdays",
    "个工作日": "workdays",
}
_DURATION = re.compile(r"^\s*(\d+)\s*([a-zA-Z\u4e00-\u9fff]+)\s*$")
_RELATIVE = re.compile(r"^\s*(start|end)\s*(?:([+-])\s*(.+?))?\s*$")

END_OF_DAY = dt.time(23, 59, 59)


MAX_COUNT = 3650  # days or working days in a duration: ten years is more than any campaign needs


class ExpressionError(ValueError):
    """A duration or due expression that cannot be read."""


@dataclass(frozen=True)
class Duration:
    count: int
    unit: str  # "days" | "workdays"

    def __str__(self) -> str:
        return f"{self.count} {self.unit if self.count != 1 else self.unit[:-1]}"

    def shift(self, day: dt.date, calendar: WorkCalendar, sign: int = 1) -> dt.date:
        if self.unit == "days":
            return day + dt.timedelta(days=sign * self.count)
        return calendar.add_workdays(day, sign * self.count)


def parse_duration(text: str) -> Duration:
    m = _DURATION.match(str(text))
    if not m or m.group(2).lower() not in _UNITS:
        raise ExpressionError(
            f"无法识别的时长 '{text}'，应写作 '3 days' 或 '1 workday' "
            f"(cannot read duration '{text}'; write e.g. '3 days' or '1 workday')"
        )
    count = int(m.group(1))
    if count > MAX_COUNT:  # counting working days one by one: a spec must not make validation run for minutes
        raise ExpressionError(f"时长 '{text}' 超过 {MAX_COUNT} 天 (duration '{text}' is longer than {MAX_COUNT} days)")
    return Duration(count, _UNITS[m.group(2).lower()])


@dataclass(frozen=True)
class RelativeDue:
    anchor: str  # "start" | "end"
    sign: int
    offset: Duration | None

    def resolve_date(self, start: dt.date, end: dt.date, calendar: WorkCalendar) -> dt.date:
        base = start if self.anchor == "start" else end
        if self.offset is None:
            return base
        return self.offset.shift(base, calendar, self.sign)


def parse_relative(text: str) -> RelativeDue:
    m = _RELATIVE.match(text)
    if not m:
        raise ExpressionError(
            f"无法识别的期限表达式 '{text}'，应写作日期、'start + 10 workdays'、'end - 3 days' 或 'end' "
            f"(cannot read due expression '{text}'; write a date, 'start + 10 workdays', "
            f"'end - 3 days' or 'end')"
        )
    anchor, sign, rest = m.groups()
    if sign is None:
        return RelativeDue(anchor, 1, None)
    return RelativeDue(anchor, 1 if sign == "+" else -1, parse_duration(rest))


def parse_datetime_text(text: str) -> dt.date | dt.datetime | None:
    """A date or date-time written as text ('2023-04-05', '2023-04-05 17:00'); None if neither."""
    text = text.strip()
    try:
        if len(text) == 10:
            return dt.date.fromisoformat(text)
        return dt.datetime.fromisoformat(text)
    except ValueError:
        return None


def local_end_of_day(day: dt.date, tz: ZoneInfo) -> dt.datetime:
    return dt.datetime.combine(day, END_OF_DAY, tzinfo=tz)


def local_start_of_day(day: dt.date, tz: ZoneInfo) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(0, 0), tzinfo=tz)


def resolve_due(
    due: dt.date | dt.datetime | str,
    *,
    phase_start: dt.date,
    phase_end: dt.date,
    calendar: WorkCalendar,
    tz: ZoneInfo,
) -> dt.datetime:
    """The due instant (UTC) of a step: a date is the end of that local day."""
    value: dt.date | dt.datetime | None
    if isinstance(due, str):
        value = parse_datetime_text(due)
        if value is None:
            value = parse_relative(due).resolve_date(phase_start, phase_end, calendar)
    else:
        value = due
    if isinstance(value, dt.datetime):
        local = value if value.tzinfo else value.replace(tzinfo=tz)
    else:
        local = local_end_of_day(value, tz)
    return local.astimezone(dt.UTC)
