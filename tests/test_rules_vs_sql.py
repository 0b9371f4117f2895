"""The pure rules and their SQL forms give the same answers: overdue (only once the phase has started),
gate, counts, due instants, reminders."""

from __future__ import annotations

import datetime as dt

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import case, insert, select, update

from campaign_model import ledger as ledger_rules
from campaign_model import rules
from campaign_model.calendar import WorkCalendar
from campaign_model.errors import ConflictError
from campaign_model.reminders import latest_slot, next_slot, slots
from campaign_model.spec import ReminderPolicy
from campaign_model.specfile import load_spec_text
from campaign_model.store.audit import Act
from campaign_model.store.campaigns import create_campaign, load_ctx
from campaign_model.store.outbox import mark_items_overdue
from campaign_model.store.phases import gate_open_exists, mark_overdue, phase_rows
from campaign_model.store.predicates import ledger_item_overdue
from campaign_model.store.queries import obligation_counts
from campaign_model.store.tables import ledger_items, obligations, phases, requirements, units
from campaign_model.timeexpr import resolve_due

from .conftest import TZ, local

N = 12
SPEC = f"""
key: prop
title: 性质测试
organizer: org
units: [{{key: org, name: 组织}}, {', '.join(f'{{key: u{i}, name: 单位{i}}}' for i in range(N))}]
artifacts: {{a: {{title: 材料}}}}
phases:
  - key: p1
    title: 第一阶段
    kind: custom
    start: 2023-03-01
    end: 2023-03-31
    steps:
      - {{key: s, title: 步骤, due: 2023-03-15, requires: [{{artifact: a, from: all}}]}}
"""

BASE = local("2023-03-15T00:00")
ob_strategy = st.tuples(
    st.sampled_from(rules.STATES),
    st.integers(min_value=-5 * 24 * 60, max_value=5 * 24 * 60),  # due, minutes around BASE
    st.booleans(),  # review
    st.booleans(),  # gating
)


def _campaign(engine):
    with engine.begin() as conn:
        create_campaign(conn, load_spec_text(SPEC, "prop.yaml"), Act(BASE, "t", BASE))
        ctx = load_ctx(conn, "prop")
        phase = phase_rows(conn, ctx.id)[0]
        ids = conn.execute(select(obligations.c.id).order_by(obligations.c.id)).scalars().all()
    return ctx, phase, ids


def _apply(conn, ids, obs):
    for oid, (state, minutes, review, gating) in zip(ids, obs, strict=False):
        conn.execute(update(obligations).where(obligations.c.id == oid).values(
            state=state, review=review, gating=gating, done=rules.obligation_done(state, review),
            due_at=BASE + dt.timedelta(minutes=minutes), overdue_at=None))


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(obs=st.lists(ob_strategy, min_size=N, max_size=N), at_minutes=st.integers(-6 * 24 * 60, 6 * 24 * 60),
       started_minutes=st.one_of(st.none(), st.integers(-6 * 24 * 60, 6 * 24 * 60)))  # None: not started
def test_overdue_gate_and_counts_agree(engine, obs, at_minutes, started_minutes):
    if not hasattr(engine, "_prop"):
        engine._prop = _campaign(engine)
    ctx, phase, ids = engine._prop
    at = BASE + dt.timedelta(minutes=at_minutes)
    started = None if started_minutes is None else BASE + dt.timedelta(minutes=started_minutes)
    with engine.begin() as conn:
        _apply(conn, ids, obs)
        conn.execute(update(phases).where(phases.c.id == phase.id).values(started_at=started))
        phase = phase_rows(conn, ctx.id)[0]
        marked = mark_overdue(conn, ctx, phase, Act(at, "t", at))
        expected_overdue = [rules.is_overdue(s, BASE + dt.timedelta(minutes=m), at, started) for s, m, _, _ in obs]
        assert marked == sum(expected_overdue)
        flagged = conn.execute(select(obligations.c.overdue_at.is_not(None)).order_by(obligations.c.id)).scalars().all()
        assert list(map(bool, flagged)) == expected_overdue

        gate_pure = rules.gate_met([rules.obligation_done(s, r) for s, _, r, g in obs if g])
        assert (not gate_open_exists(conn, phase.id)) == gate_pure

        counts = obligation_counts(conn, ctx.id, at)
        pure = dict.fromkeys(counts, 0)
        for (s, _m, _, _), late in zip(obs, expected_overdue, strict=False):
            pure[s] += 1  # the states partition the total; overdue and not_open are subsets of the open ones
            pure["total"] += 1
            pure["overdue"] += late
            pure["not_open"] += s in rules.OPEN_STATES and not rules.phase_open(started, at)
        assert counts == pure
        conn.rollback()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(start_offset=st.integers(0, 300), length=st.integers(0, 60), n=st.integers(0, 15),
       unit=st.sampled_from(["days", "workdays"]), anchor=st.sampled_from(["start", "end"]))
def test_stored_due_instants_match_the_pure_rule(engine, start_offset, length, n, unit, anchor):
    start = dt.date(2023, 1, 2) + dt.timedelta(days=start_offset)
    end = start + dt.timedelta(days=length)
    expr = f"{anchor} + {n} {unit}" if anchor == "start" else f"{anchor} - {min(n, length)} days"
    key = f"d{start_offset}-{length}-{n}-{unit}-{anchor}"
    # placeholders first: a start date equal to the template's end date must not be replaced twice
    spec = SPEC.replace("key: prop", f"key: {key}").replace("start: 2023-03-01", "start: START") \
        .replace("end: 2023-03-31", "end: END").replace("due: 2023-03-15", f"due: {expr}") \
        .replace("START", start.isoformat()).replace("END", end.isoformat())
    loaded = load_spec_text(spec, "due.yaml")
    with engine.begin() as conn:
        try:
            create_campaign(conn, loaded, Act(BASE, "t", BASE))
        except ConflictError:  # hypothesis drew the same example twice: the campaign exists
            pass
        stored = conn.execute(select(obligations.c.due_at).join(requirements, requirements.c.id == obligations.c.requirement_id)
                              .where(requirements.c.campaign_id == load_ctx(conn, key).id)).scalars().all()
    pure = resolve_due(expr, phase_start=start, phase_end=end, calendar=WorkCalendar("cn"), tz=TZ)
    assert set(stored) == {pure}
    assert pure.astimezone(TZ).time() == dt.time(23, 59, 59)


policies = st.builds(
    ReminderPolicy,
    before=st.lists(st.sampled_from(["1 day", "3 days", "1 workday", "2 workdays", "7 days"]), max_size=3),
    on_due=st.booleans(),
    overdue_every=st.sampled_from([None, "1 workday", "2 workdays", "3 days"]),
    send_at=st.sampled_from(["08:30", "09:00", "16:00"]),
)


@settings(max_examples=80, deadline=None)
@given(policy=policies, due_offset=st.integers(0, 700), after_hours=st.integers(-400, 400))
def test_reminder_slots_keep_the_contract(policy, due_offset, after_hours):
    cal = WorkCalendar("cn")
    due = local("2023-01-01T23:59:59") + dt.timedelta(days=due_offset)
    seen_days = set()
    prev = None
    for i, slot in enumerate(slots(due, policy, cal, TZ)):
        if i > 12:
            break
        assert cal.is_workday(slot.day), "no reminder on a non-working day"
        assert slot.day not in seen_days, "two reminders of one obligation on one day are one"
        assert slot.at.astimezone(TZ).time() == policy.send_time()
        assert (slot.kind == "overdue") == (slot.at > due)
        assert prev is None or slot.at > prev
        seen_days.add(slot.day)
        prev = slot.at
    after = due + dt.timedelta(hours=after_hours)
    nxt, last = next_slot(due, policy, cal, TZ, after), latest_slot(due, policy, cal, TZ, after)
    assert nxt is None or nxt.at > after
    assert last is None or last.at <= after


item_strategy = st.tuples(
    st.sampled_from(ledger_rules.STATES),
    st.one_of(st.none(), st.integers(min_value=-5 * 24 * 60, max_value=5 * 24 * 60)),  # deadline, minutes around BASE
    st.booleans(),  # long_term
)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(items=st.lists(item_strategy, min_size=1, max_size=N), at_minutes=st.integers(-6 * 24 * 60, 6 * 24 * 60))
def test_ledger_item_overdue_agrees_with_the_rule(engine, items, at_minutes):
    """The one SQL form of "owed and past its deadline" (used by the ledger gate, the board and the overdue
    marks) answers as ledger.is_overdue does, whatever the state, deadline, long-term flag and instant."""
    if not hasattr(engine, "_prop"):
        engine._prop = _campaign(engine)
    ctx = engine._prop[0]
    at = BASE + dt.timedelta(minutes=at_minutes)
    with engine.begin() as conn:
        unit_ids = conn.execute(select(units.c.id).where(units.c.campaign_id == ctx.id).order_by(units.c.id)).scalars().all()
        ids = [conn.execute(insert(ledger_items).values(
            campaign_id=ctx.id, unit_id=unit_ids[n % len(unit_ids)], row_no=n + 1, problem="问题", state=state,
            source="supervision", current=True, created_at=BASE, long_term=long_term,
            due_at=None if minutes is None else BASE + dt.timedelta(minutes=minutes))).inserted_primary_key[0]
            for n, (state, minutes, long_term) in enumerate(items)]
        expected = [ledger_rules.is_overdue(state, None if minutes is None else BASE + dt.timedelta(minutes=minutes),
                                            at, long_term) for state, minutes, long_term in items]
        sql = dict(conn.execute(select(ledger_items.c.id, case((ledger_item_overdue(at), True), else_=False))
                                .where(ledger_items.c.id.in_(ids))).tuples().all())
        assert [bool(sql[i]) for i in ids] == expected
        assert mark_items_overdue(conn, ctx, Act(at, "t", at)) == sum(expected)
        conn.rollback()
