"""The campaign tick and the two ways to run it; its steps and their order are in flows/tick_steps.py.

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
  A simulation (`ticks_direct`, or a `Ticker` fed one instant after another) runs the full steps only at the
  instants where something can happen (campaign_model/store/horizon.py: a phase's start or end, a due or
  reminder instant, an outbox row's, the weekly notice's, the send window's opening, or a change made since
  by someone); at the others it reports the idle tick's result without running the steps (one index probe of
  the audit log), and the campaign's last tick instant is written once, at the end of the run. The results
  and the database are the same as with every tick run in full (tests/test_skip_idle_ticks.py).
- `tick` / `ticks`: as ONE Prefect flow run `campaign-tick` (flows/tick_flow.py) whose task runs are the
  grain above (open-phases, one phase-<key> per running phase, ledger, send); a simulation under Prefect is
  one flow run `campaign-ticks` with one task run per tick run in full (the idle ones skipped likewise).
  `campaign serve`'s scheduled ticks, a Prefect worker's deployment (flows/deploy.py) and `campaign tick
  --prefect` run this way.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from campaign_model.store.audit import Act
from notifications.settings import DeliveryConfig

from . import steps
from .tick_steps import Ticker, direct_call, instants, orchestrate

__all__ = ["Ticker", "tick", "tick_direct", "ticks", "ticks_direct", "api_answers"]


def tick_direct(url: str, campaign: str, act: Act, outbox_file: str,
                delivery: DeliveryConfig | None = None) -> dict[str, Any]:
    """One tick in this process, without Prefect."""
    steps.precheck(url, campaign, act)
    return orchestrate(url, campaign, act, outbox_file, delivery, direct_call)


def ticks_direct(url: str, campaign: str, start: dt.datetime, until: dt.datetime, every: dt.timedelta, actor: str,
                 outbox_file: str, delivery: DeliveryConfig | None, clock: Callable[[], dt.datetime]) -> list[dict[str, Any]]:
    """Successive ticks in this process (a simulation): `tick_direct` at start, start + every, ... up to `until`,
    each recorded at the clock's instant when it really runs; the idle ones skipped (`Ticker`)."""
    steps.precheck(url, campaign, Act(start, actor, start))
    ticker = Ticker(url, campaign, outbox_file, delivery)
    try:
        return [ticker.tick(Act(at, actor, clock())) for at in instants(start, until, every)]
    finally:
        ticker.close()


def tick(url: str, campaign: str, act: Act, outbox_file: str, delivery: DeliveryConfig | None = None) -> dict[str, Any]:
    """One tick as one Prefect flow run (bad input is refused before the run, not logged as a failed run).

    Imports Prefect: prepare its environment first (campaign_app's `Settings.prepare_prefect()`)."""
    steps.precheck(url, campaign, act)
    from .tick_flow import run_tick

    return run_tick(url, campaign, act, outbox_file, delivery)


def ticks(url: str, campaign: str, start: dt.datetime, until: dt.datetime, every: dt.timedelta, actor: str,
          outbox_file: str, delivery: DeliveryConfig | None, clock: Callable[[], dt.datetime]) -> list[dict[str, Any]]:
    """Successive ticks as ONE Prefect flow run (one task run per tick run in full, the idle ones skipped as by
    `ticks_direct`), never one flow run per tick."""
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
