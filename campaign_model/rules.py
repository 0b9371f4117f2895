"""The rules of obligations, gates and phases: plain functions over plain data and an explicit instant.

The store applies the same rules in SQL; `tests/test_rules_vs_sql.py` holds the two to the same answers.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

OPEN_STATES = ("pending", "rejected")
STATES = ("pending", "filed", "accepted", "rejected", "waived")


def obligation_done(state: str, review: bool) -> bool:
    """Counts for the gate: accepted, waived, or filed where no review is required."""
    return state in ("accepted", "waived") or (state == "filed" and not review)


def phase_open(started_at: dt.datetime | None, at: dt.datetime) -> bool:
    """An obligation is open for work once its phase has started (by `at`); before that it is "not yet
    open" (未开始): never overdue, reminded, escalated or named in a notice, whatever its due date."""
    return started_at is not None and started_at <= at


def is_overdue(state: str, due_at: dt.datetime, at: dt.datetime, started_at: dt.datetime | None) -> bool:
    """An open (pending/rejected) obligation of a started phase whose due instant has passed.

    A phase that starts late (held by the gate before it) keeps its obligations' due instants: one
    already past is overdue from the phase's start, its days overdue still counted from the due day.
    The SQL form is `store.predicates.obligation_overdue`; tests/test_rules_vs_sql.py holds them together.
    """
    return state in OPEN_STATES and at > due_at and phase_open(started_at, at)


def display_state(state: str, overdue_at: dt.datetime | None) -> str:
    """The state shown to users: an open obligation past its due instant reads 'overdue'."""
    return "overdue" if state in OPEN_STATES and overdue_at is not None else state


def gate_met(gating_done: list[bool]) -> bool:
    return all(gating_done)


@dataclass(frozen=True)
class PhaseView:
    key: str
    start_at: dt.datetime
    end_at: dt.datetime
    advance: str  # at_end | when_ready
    state: str  # pending | active | overdue | completed
    started_at: dt.datetime | None = None
    completed_at: dt.datetime | None = None
    opens: str = "after_previous"  # after_previous | on_date


def can_start(phase: PhaseView, previous_completed_at: dt.datetime | None, is_first: bool, at: dt.datetime,
              previous_started_at: dt.datetime | None = None) -> dt.datetime | None:
    """The instant the phase started, if it has by `at`: its window is open and the one before is done
    (`after_previous`), or, for a phase that opens `on_date`, the one before has started: the two then run
    side by side (seed 002: 综合整治 from 04-01 while 自查自纠's issue lists are due 04-05)."""
    if is_first:
        opened = phase.start_at
    elif previous_completed_at is not None:
        opened = max(phase.start_at, previous_completed_at)
        if phase.opens == "on_date" and previous_started_at is not None:
            opened = min(opened, max(phase.start_at, previous_started_at))
    elif phase.opens == "on_date" and previous_started_at is not None:
        opened = max(phase.start_at, previous_started_at)
    else:
        return None
    return opened if opened <= at else None


def completion_instant(phase: PhaseView, started_at: dt.datetime, met_since: dt.datetime, at: dt.datetime,
                       previous_completed_at: dt.datetime | None = None) -> dt.datetime | None:
    """When a started phase whose gate is met (since `met_since`) completes, if it has by `at`. Phases
    complete in order: one that opened on its date completes no earlier than the one before it."""
    ready = max(started_at, met_since, previous_completed_at or started_at)
    when = max(ready, phase.end_at) if phase.advance == "at_end" else ready
    return when if when <= at else None


def running_state(phase: PhaseView, at: dt.datetime) -> str:
    """active inside its window, overdue past its planned end."""
    return "overdue" if at > phase.end_at else "active"


# --- the traffic light of an obligation (the dashboard's matrix) ---

DUE_SOON = dt.timedelta(days=3)
LIGHTS = ("green", "yellow", "red", "grey", "none")


def light(state: str, due_at: dt.datetime, at: dt.datetime, waived: bool, started_at: dt.datetime | None) -> str:
    """The traffic light of one obligation at `at`; a rejected filing counts as open, and so does the
    display state "overdue" (queries.obligation_list), so that the light reads either form. An obligation
    of a phase not yet started is "none" (nothing to do yet), whatever its due date."""
    if waived or state == "waived":
        return "grey"
    if state in ("filed", "accepted"):
        return "green"
    if state not in (*OPEN_STATES, "overdue"):
        raise ValueError(f"unknown obligation state {state!r}")
    if not phase_open(started_at, at):
        return "none"
    if at > due_at:  # open and past due in a started phase: is_overdue
        return "red"
    return "yellow" if due_at - at <= DUE_SOON else "none"
