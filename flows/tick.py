"""The campaign tick: a Prefect flow that runs one flow per active phase, then the ledger's deadlines
and look-backs, then sends the reminders.

Each phase flow (one per phase kind) has the tasks check deadlines, plan reminders, evaluate gate and
advance. Sending is done once per tick for the whole campaign, after the phase flows, so that each
recipient gets one digest per tick whatever the number of phases running. Prefect orchestrates whole
phases; every task is a set-based statement over all the phase's obligations, never one per unit.

`tick_direct` runs the same steps without Prefect (for benchmarks and the rules-vs-SQL tests).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from prefect import flow, task

from campaign_model.spec import PHASE_KINDS
from campaign_model.store.audit import Act
from notifications.settings import DeliveryConfig

from . import steps

StepRunner = Callable[..., Awaitable[Any]]


async def _orchestrate(url: str, campaign: str, act: Act, outbox_file: str, delivery: DeliveryConfig | None,
                       call: StepRunner, run_phase: StepRunner) -> dict[str, Any]:
    advanced = list(await call(steps.start_phases, url, campaign, act))
    await call(steps.look_back, url, campaign, act)
    marked = planned = 0
    done: set[str] = set()
    while True:
        todo = [(k, kind) for k, kind in await call(steps.running_phases, url, campaign) if k not in done]
        if not todo:
            break
        key, kind = todo[0]
        result = await run_phase(kind, url, campaign, key, act, delivery)
        done.add(key)
        marked += result["overdue_marked"]
        planned += result["reminders_planned"]
        advanced += result["advanced"]
    items_marked, items_planned = await call(steps.ledger_deadlines, url, campaign, act, delivery)
    marked += items_marked
    planned += items_planned
    sent = await call(steps.send_reminders, url, campaign, act, outbox_file, delivery)
    at_local, states = await call(steps.finish_tick, url, campaign, act)
    # reminders_sent: handed to a real channel; reminders_written: only written to the outbox file, sent to
    # nobody; deliveries: the reminders by channel name (with the channel's kind)
    return {"at": at_local, "advanced": advanced, "overdue_marked": marked, "reminders_planned": planned,
            "reminders_sent": sent["sent"], "reminders_written": sent["written"], "deliveries": sent["channels"],
            "phases": states}


def _phase_steps(call_sync: Callable[..., Any], url: str, campaign: str, key: str, act: Act,
                 delivery: DeliveryConfig | None = None) -> dict[str, Any]:
    marked = call_sync(steps.check_deadlines, url, campaign, key, act)
    planned = call_sync(steps.plan_reminders, url, campaign, key, act, delivery)
    met = call_sync(steps.evaluate_gate, url, campaign, key, act)
    advanced = call_sync(steps.advance_phase, url, campaign, key, act) if met else []
    return {"phase": key, "overdue_marked": marked, "reminders_planned": planned, "gate_met": met,
            "advanced": advanced}


# --- Prefect: tasks around the steps, one flow per phase kind, the tick flow ---

_STEPS: tuple[Callable[..., Any], ...] = (
    steps.start_phases, steps.running_phases, steps.check_deadlines, steps.plan_reminders, steps.evaluate_gate,
    steps.advance_phase, steps.send_reminders, steps.finish_tick, steps.look_back, steps.ledger_deadlines)
_TASKS = {fn: task(name=fn.__name__.replace("_", "-"))(fn) for fn in _STEPS}


def _task_call(fn: Callable[..., Any], *args: Any) -> Any:
    return _TASKS[fn](*args)


def _make_phase_flow(kind: str) -> Any:
    async def phase_flow(url: str, campaign: str, key: str, act: Act,
                         delivery: DeliveryConfig | None = None) -> dict[str, Any]:
        return _phase_steps(_task_call, url, campaign, key, act, delivery)

    phase_flow.__name__ = f"{kind}_phase"
    return flow(name=f"{kind}-phase", log_prints=False)(phase_flow)


PHASE_FLOWS = {kind: _make_phase_flow(kind) for kind in PHASE_KINDS}


@flow(name="campaign-tick")
async def campaign_tick(url: str, campaign: str, act: Act, outbox_file: str,
                        delivery: DeliveryConfig | None = None) -> dict[str, Any]:
    async def call(fn: Callable[..., Any], *args: Any) -> Any:
        return _task_call(fn, *args)

    async def run_phase(kind: str, *args: Any) -> Any:
        return await PHASE_FLOWS[kind](*args)

    return await _orchestrate(url, campaign, act, outbox_file, delivery, call, run_phase)


def tick(url: str, campaign: str, act: Act, outbox_file: str, delivery: DeliveryConfig | None = None) -> dict[str, Any]:
    """Run one tick as a Prefect flow run (bad input is refused before the run, not logged as a failure)."""
    steps.precheck(url, campaign, act)
    return asyncio.run(campaign_tick(url, campaign, act, outbox_file, delivery))


def tick_direct(url: str, campaign: str, act: Act, outbox_file: str,
                delivery: DeliveryConfig | None = None) -> dict[str, Any]:
    """The same tick without Prefect: the work below the orchestration, for benchmarks and tests."""
    steps.precheck(url, campaign, act)

    async def call(fn: Callable[..., Any], *args: Any) -> Any:
        return fn(*args)

    async def run_phase(kind: str, *args: Any) -> Any:
        return _phase_steps(lambda fn, *a: fn(*a), *args)

    return asyncio.run(_orchestrate(url, campaign, act, outbox_file, delivery, call, run_phase))
