"""The tick's steps at the grain a Prefect flow run shows them, and their order: what both ways of running a
tick share (flows/tick.py runs them in this process, flows/tick_flow.py as one Prefect flow run).

A tick starts the phases whose time has come and takes the look-back samples due (`open_phases`), then works
each running phase (`phase_tick`), then the ledger items' deadlines, then sends the reminders once for the
whole campaign, and records the tick (`orchestrate`). This module never imports Prefect.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from campaign_model.store import horizon, phases
from campaign_model.store.audit import Act
from campaign_model.store.campaigns import load_ctx
from campaign_model.store.locks import tick_lock
from campaign_model.store.queries import phase_state
from notifications.settings import DeliveryConfig

from . import steps

# run(name, fn, *args): the orchestration's one way to call a task-grain step (Prefect: a task run; direct: a call)
StepRunner = Callable[..., Any]


def open_phases(url: str, campaign: str, act: Act) -> list[str]:
    """Start the phases whose window opened (and complete those allowed), then sample the look-back re-checks due."""
    advanced = steps.start_phases(url, campaign, act)
    steps.look_back(url, campaign, act)
    return advanced


def phase_tick(url: str, campaign: str, key: str, act: Act, delivery: DeliveryConfig | None = None) -> dict[str, Any]:
    """One running phase: overdue marks, reminders planned, the gate, and the phase change when it is met."""
    marked = steps.check_deadlines(url, campaign, key, act)
    planned = steps.plan_reminders(url, campaign, key, act, delivery)
    met = steps.evaluate_gate(url, campaign, key, act)
    advanced = steps.advance_phase(url, campaign, key, act) if met else []
    return {"phase": key, "overdue_marked": marked, "reminders_planned": planned, "gate_met": met, "advanced": advanced}


# the task-grain steps by the name of their task in a flow run (a phase's task run is named phase-<key>)
TASK_STEPS: dict[str, Callable[..., Any]] = {
    "open-phases": open_phases, "phase": phase_tick, "ledger": steps.ledger_deadlines, "send": steps.send_reminders}


def orchestrate(url: str, campaign: str, act: Act, outbox_file: str, delivery: DeliveryConfig | None,
                run: StepRunner) -> dict[str, Any]:
    """The tick's steps in order, holding the campaign's tick lock (campaign_model/store/locks.py): a second
    tick of the same campaign started meanwhile (another process, another Prefect worker) waits, then finds
    each reminder already planned and sent."""
    with tick_lock(steps.engine_for(url), campaign):
        return _orchestrate(url, campaign, act, outbox_file, delivery, run)


def _orchestrate(url: str, campaign: str, act: Act, outbox_file: str, delivery: DeliveryConfig | None,
                 run: StepRunner) -> dict[str, Any]:
    """The tick's steps in order; `run` calls each task-grain step (the reads between them are plain calls)."""
    advanced = list(run("open-phases", open_phases, url, campaign, act))
    marked = planned = 0
    done: set[str] = set()
    while True:  # a phase that completes may start the next one, which is then worked in the same tick
        todo = [key for key, _kind in steps.running_phases(url, campaign) if key not in done]
        if not todo:
            break
        result = run("phase", phase_tick, url, campaign, todo[0], act, delivery)
        done.add(todo[0])
        marked += result["overdue_marked"]
        planned += result["reminders_planned"]
        advanced += result["advanced"]
    items_marked, items_planned = run("ledger", steps.ledger_deadlines, url, campaign, act, delivery)
    marked += items_marked
    planned += items_planned
    sent = run("send", steps.send_reminders, url, campaign, act, outbox_file, delivery)
    at_local, states = steps.finish_tick(url, campaign, act)
    # reminders_sent: handed to a real channel; reminders_written: only written to the outbox file, sent to
    # nobody; deliveries: the reminders by channel name (with the channel's kind)
    return {"at": at_local, "advanced": advanced, "overdue_marked": marked, "reminders_planned": planned,
            "reminders_sent": sent["sent"], "reminders_written": sent["written"], "deliveries": sent["channels"],
            "phases": states}


def direct_call(_name: str, fn: Callable[..., Any], *args: Any) -> Any:
    """The runner of `orchestrate` without Prefect: each step a plain call."""
    return fn(*args)


def instants(start: dt.datetime, until: dt.datetime, every: dt.timedelta) -> list[dt.datetime]:
    """start, start + every, ... up to `until` included: a simulation's tick instants."""
    if every <= dt.timedelta(0):
        raise ValueError("the interval between ticks must be positive")
    out = []
    while start <= until:
        out.append(start)
        start += every
    return out


# a tick in full: (url, campaign, act, outbox_file, delivery) -> the tick's result
FullTick = Callable[[str, str, Act, str, DeliveryConfig | None], dict[str, Any]]


def _full_tick(url: str, campaign: str, act: Act, outbox_file: str, delivery: DeliveryConfig | None) -> dict[str, Any]:
    return orchestrate(url, campaign, act, outbox_file, delivery, direct_call)


class Ticker:
    """Successive direct ticks of one campaign, at instants that never go back, that skip the idle ones.

    After each tick run in full it reads the campaign's horizon (store.horizon: when the next thing can happen,
    and the campaign's last audit sequence number). A tick before that instant, with the audit log unchanged
    and no send window opened since, changes nothing but the campaign's last tick instant: it returns the idle
    tick's result (the phases' states brought to its instant) and runs one index probe. The last skipped
    instant is recorded as the last tick before the next full tick and by `close()`. With `skip=False` every
    tick runs in full (what the skipping is compared with)."""

    def __init__(self, url: str, campaign: str, outbox_file: str, delivery: DeliveryConfig | None = None, *,
                 skip: bool = True, run: FullTick | None = None):
        self.url, self.campaign, self.outbox_file, self.delivery, self.skip = url, campaign, outbox_file, delivery, skip
        self.run = run or _full_tick  # a tick in full (under Prefect: a task run)
        self.full = self.skipped = 0  # ticks run in full, ticks skipped
        self._horizon: horizon.Horizon | None = None
        self._unrecorded: dt.datetime | None = None  # the last skipped instant, not yet the campaign's last tick

    def tick(self, act: Act) -> dict[str, Any]:
        h = self._horizon
        if h is not None and (self._unrecorded is None or act.at >= self._unrecorded) and h.quiet(act.at):
            with steps.engine_for(self.url).connect() as conn:
                unchanged = horizon.marker(conn, self.campaign) == h.marker
            if unchanged:
                self._unrecorded = act.at
                self.skipped += 1
                return {"at": act.at.astimezone(h.ctx.tz).isoformat(), "advanced": [], "overdue_marked": 0,
                        "reminders_planned": 0, "reminders_sent": 0, "reminders_written": 0, "deliveries": {},
                        "phases": {r.key: phase_state(r, act.at) for r in h.phases}}
        self.close()
        self._horizon = None
        steps.precheck(self.url, self.campaign, act)
        if self.skip:
            with steps.engine_for(self.url).connect() as conn:
                before = horizon.marker(conn, self.campaign)
        result = self.run(self.url, self.campaign, act, self.outbox_file, self.delivery)
        self.full += 1
        if self.skip:  # what the tick left; a change someone made while it ran: the next tick runs in full
            with steps.engine_for(self.url).begin() as conn:
                ctx = load_ctx(conn, self.campaign)
                self._horizon = horizon.read(conn, ctx, act.at, phases.phase_rows(conn, ctx.id), (before, act.actor))
        return result

    def close(self) -> None:
        """Record the last skipped instant as the campaign's last tick (as the tick run there would have)."""
        if self._unrecorded is not None:
            at, self._unrecorded = self._unrecorded, None
            steps.finish_tick(self.url, self.campaign, Act(at, "", at))
