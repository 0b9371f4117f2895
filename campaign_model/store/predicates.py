"""The rules of obligations and ledger items as SQL clauses, written once: every query that asks "open and
past due" uses these.

Each is the SQL form of a pure rule (`campaign_model.rules`, `campaign_model.ledger`);
tests/test_rules_vs_sql.py holds the two to the same answers.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import and_, select, text

from ..ledger import OWED
from .tables import ledger_items, obligations, phases

# written out (not bound) so that SQLite can match the partial index ix_obligations_open_due
OPEN_LITERAL = text("obligations.state IN ('pending', 'rejected')")


def phase_started(at: dt.datetime) -> Any:
    """rules.phase_open: the obligation's phase started by `at` (a correlated probe of the phase's primary key)."""
    return select(phases.c.id).where(phases.c.id == obligations.c.phase_id, phases.c.started_at.is_not(None),
                                     phases.c.started_at <= at).exists()


def obligation_overdue(at: dt.datetime) -> Any:
    """rules.is_overdue: open (pending/rejected), due before `at`, and its phase started by `at`.

    An obligation of a phase not yet started is "not yet open" (未开始): never overdue, whatever its due date.
    """
    return and_(OPEN_LITERAL, obligations.c.due_at < at, phase_started(at))


def obligation_not_open(at: dt.datetime) -> Any:
    """Open (pending/rejected) but its phase has not started by `at`: owed later, nothing to do yet."""
    return and_(OPEN_LITERAL, ~phase_started(at))


def ledger_item_owed() -> Any:
    """The unit still owes work on the item (open, in progress, reopened) and it has a deadline to miss
    (not long-term): such an item is reminded, and overdue once past its deadline."""
    i = ledger_items.c
    return and_(i.state.in_(OWED), i.long_term.is_(False), i.due_at.is_not(None))


def ledger_item_overdue(at: dt.datetime) -> Any:
    """ledger.is_overdue: owed (see `ledger_item_owed`) and its deadline's instant before `at`."""
    return and_(ledger_item_owed(), ledger_items.c.due_at < at)
