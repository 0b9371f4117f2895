"""The campaign tick: its steps in order, at the grain a Prefect flow run shows them, and the two ways to run them.

A tick starts the phases whose time has come and takes the look-back samples due (`open_phases`), then works
each running phase (`phase_tick`: check deadlines, plan reminders, evaluate the gate, advance), then the ledger
items' deadlines (`steps.ledger_deadlines`), then sends the reminders once for the whole campaign
(`steps.send_reminders`: one digest per recipient and channel per tick, whatever the number of phases running),
and records the tick (`steps.finish_tick`). Every step is one or a few set-based statements over all of a phase's
obligations, never one per unit; each is its own short transaction, so that a Prefect worker in another
process can run it.

Two ways to run the same steps, with the same result and the same audit events:

- `tick_direct` / `ticks_direct`: in this process, no Prefect — the command line's one-shot tick and its
  simulations (`campaign tick --until`), the tests and the benchmarks. This module never imports Prefect.
- `tick` / `ticks`: as ONE Prefect flow run `campaign-tick` (flows/tick_flow.py) whose task runs are the
  grain above (open-phases, one phase-<key> per running phase, ledger, send); a simulation under Prefect is
  one flow run `campaign-ticks` with one task run per tick. `campaign serve`'s scheduled ticks, a Prefect
  worker's deployment (flows/deploy.py) and `campaign tick --prefect` run this way.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from campaign_model.store.audit import Act
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


def _call(_name: str, fn: Callable[..., Any], *args: Any) -> Any:
    return fn(*args)


def tick_direct(url: str, campaign: str, act: Act, outbox_file: str,
                delivery: DeliveryConfig | None = None) -> dict[str, Any]:
    """One tick in this process, without Prefect."""
    steps.precheck(url, campaign, act)
    return orchestrate(url, campaign, act, outbox_file, delivery, _call)


def ticks_direct(url: str, campaign: str, start: dt.datetime, until: dt.datetime, every: dt.timedelta, actor: str,
                 outbox_file: str, delivery: DeliveryConfig | None, clock: Callable[[], dt.datetime]) -> list[dict[str, Any]]:
    """Successive ticks in this process (a simulation): `tick_direct` at start, start + every, ... up to `until`,
    each recorded at the clock's instant when it really runs."""
    steps.precheck(url, campaign, Act(start, actor, start))
    return [orchestrate(url, campaign, Act(at, actor, clock()), outbox_file, delivery, _call)
            for at in instants(start, until, every)]


def tick(url: str, campaign: str, act: Act, outbox_file: str, delivery: DeliveryConfig | None = None) -> dict[str, Any]:
    """One tick as one Prefect flow run (bad input is refused before the run, not logged as a failed run).

    Imports Prefect: prepare its environment first (campaign_app's `Settings.prepare_prefect()`)."""
    steps.precheck(url, campaign, act)
    from .tick_flow import run_tick

    return run_tick(url, campaign, act, outbox_file, delivery)


def ticks(url: str, campaign: str, start: dt.datetime, until: dt.datetime, every: dt.timedelta, actor: str,
          outbox_file: str, delivery: DeliveryConfig | None, clock: Callable[[], dt.datetime]) -> list[dict[str, Any]]:
    """Successive ticks as ONE Prefect flow run (one task run per tick), never one flow run per tick."""
    steps.precheck(url, campaign, Act(start, actor, start))
    from .tick_flow import run_ticks

    return run_ticks(url, campaign, start, until, every, actor, outbox_file, delivery, clock)


def api_answers(api_url: str, timeout: float = 3.0) -> bool:
    """Whether the Prefect API at `api_url` (…/api) answers its health check; without importing Prefect."""
    import urllib.request

    try:
        with urllib.request.urlopen(api_url.rstrip("/") + "/health", timeout=timeout) as answer:  # noqa: S310 - the operator's URL
            return bool(answer.status == 200)
    except (OSError, ValueError):
        return False


def instants(start: dt.datetime, until: dt.datetime, every: dt.timedelta) -> list[dt.datetime]:
    """start, start + every, ... up to `until` included: a simulation's tick instants."""
    if every <= dt.timedelta(0):
        raise ValueError("the interval between ticks must be positive")
    out = []
    while start <= until:
        out.append(start)
        start += every
    return out
