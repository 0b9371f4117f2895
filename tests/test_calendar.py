"""Working days with the Chinese calendar's holidays and make-up days; due expressions."""

from __future__ import annotations

import datetime as dt

import pytest

from campaign_model.calendar import WorkCalendar
from campaign_model.timeexpr import ExpressionError, parse_duration, parse_relative, resolve_due

from .conftest import TZ

D = dt.date


def test_make_up_days_are_working_days_and_holidays_are_not():
    cn = WorkCalendar("cn")
    assert cn.is_workday(D(2023, 4, 23))  # Sunday, worked for May Day
    assert not cn.is_workday(D(2023, 4, 5))  # 清明 on a Wednesday
    assert not cn.is_workday(D(2023, 10, 2))
    assert cn.is_workday(D(2023, 10, 7))  # Saturday, worked for National Day
    assert WorkCalendar("weekdays").is_workday(D(2023, 4, 5))
    assert WorkCalendar("all-days").is_workday(D(2023, 4, 9))


def test_workdays_skip_the_national_day_holiday():
    cn = WorkCalendar("cn")
    assert cn.add_workdays(D(2023, 9, 28), 1) == D(2023, 10, 7)  # 09-29 .. 10-06 off
    assert cn.add_workdays(D(2023, 10, 9), -2) == D(2023, 10, 7)
    assert cn.add_workdays(D(2023, 2, 14), 10) == D(2023, 2, 28)


def test_a_year_without_official_data_falls_back_to_weekdays_and_spec_days():
    cn = WorkCalendar("cn", holidays=frozenset({D(2027, 10, 1)}), workdays=frozenset({D(2027, 9, 26)}))
    assert not WorkCalendar("cn").covers(2027) and WorkCalendar("cn").covers(2023)
    assert not cn.is_workday(D(2027, 10, 1)) and cn.is_workday(D(2027, 9, 26))  # Sunday made a working day
    assert WorkCalendar("cn").is_workday(D(2027, 10, 1))  # a Friday, no data: weekdays stand in


def test_due_expressions_resolve_to_the_end_of_a_local_day():
    cn = WorkCalendar("cn")
    kw = dict(phase_start=D(2023, 3, 6), phase_end=D(2023, 3, 31), calendar=cn, tz=TZ)
    assert resolve_due("end", **kw).astimezone(TZ).isoformat() == "2023-03-31T23:59:59+08:00"
    assert resolve_due("end - 3 days", **kw).astimezone(TZ).date() == D(2023, 3, 28)
    assert resolve_due("start + 10 workdays", **kw).astimezone(TZ).date() == D(2023, 3, 20)
    assert resolve_due(D(2023, 4, 5), **kw).astimezone(TZ).isoformat() == "2023-04-05T23:59:59+08:00"
    assert resolve_due("2023-04-05 17:00", **kw).astimezone(TZ).isoformat() == "2023-04-05T17:00:00+08:00"
    assert resolve_due(dt.datetime(2023, 4, 5, 12, 0), **kw).astimezone(TZ).hour == 12


@pytest.mark.parametrize("text", ["start + ten days", "middle", "end + 3 weeks", "start +", ""])
def test_unreadable_expressions_say_how_to_write_them(text):
    with pytest.raises(ExpressionError, match="无法识别.*cannot read .*(workday|days)"):
        parse_relative(text)


def test_durations():
    assert str(parse_duration("3 days")) == "3 days" and parse_duration("1 workday").unit == "workdays"
    assert parse_duration("2 工作日").unit == "workdays"
    with pytest.raises(ExpressionError):
        parse_duration("3 weeks")
