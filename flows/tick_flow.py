"""The tick as Prefect runs it: ONE flow run `campaign-tick` per tick, its task runs at the grain of the tick's steps.

The task runs of a tick (flows/tick.py, TASK_STEPS): ``open-phases``, ``phase-<key>`` for each running phase
(check deadlines, plan reminders, gate, advance), ``ledger`` and ``send``; the reads between them and the
tick's record run in the flow run itself. No sub-flows, no task per small statement. Nothing is cached and
no result is persisted (NO_CACHE, persist_result=False): a tick's effects are in the campaign database and
its audit log, and the flow run's result is the tick's summary, returned in memory.

A simulation under Prefect (`run_ticks`) is ONE flow run `campaign-ticks` with one task run per tick run in full:
the idle ticks are skipped as in the simulation without Prefect (flows.tick_steps.Ticker), their results computed in
the flow run.

The database URL is a parameter of the run: with a password it goes to the API as a `SecretStr` (shown as
``**********``). Importing this module imports Prefect: prepare its environment first (campaign_app's
`Settings.prepare_prefect()`).

In this process, each thread that runs flows keeps one API client open and flow-run heartbeats off
(`prepare_thread`): a tick lasts milliseconds, and without this each flow run built a new HTTP client (its TLS
context included) and then waited up to a second for its heartbeat thread to stop. `warm_up` reaches the API
ahead of the first tick (`campaign serve` runs it in its tick thread at start): the ephemeral API (a subprocess
on loopback, its output in PREFECT_HOME/server.log) when PREFECT_API_URL is unset, else the configured server.
"""

from __future__ import annotations

import datetime as dt
import os
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from prefect import flow, task
from prefect.cache_policies import NO_CACHE
from pydantic import SecretStr

from campaign_model.store.audit import Act
from notifications.settings import DeliveryConfig

from . import tick_steps

_TASK_OPTIONS: dict[str, Any] = {"cache_policy": NO_CACHE, "persist_result": False, "log_prints": False}
_FLOW_OPTIONS: dict[str, Any] = {"persist_result": False, "log_prints": False, "validate_parameters": False}

TASKS = {name: task(name=name, task_run_name="phase-{key}" if name == "phase" else name, **_TASK_OPTIONS)(fn)
         for name, fn in tick_steps.TASK_STEPS.items()}


def as_parameter(url: str) -> str | SecretStr:
    """The database URL as a flow run parameter: a SecretStr (masked by the API) when it carries a password."""
    from sqlalchemy.engine import make_url

    return SecretStr(url) if make_url(url).password else url


def _plain(url: str | SecretStr) -> str:
    return url.get_secret_value() if isinstance(url, SecretStr) else url


def _run_task(name: str, _fn: Callable[..., Any], *args: Any) -> Any:
    return TASKS[name](*args)


@flow(name="campaign-tick", flow_run_name="{campaign} {act.at:%Y-%m-%d %H:%M} UTC", **_FLOW_OPTIONS)
def campaign_tick(url: str | SecretStr, campaign: str, act: Act, outbox_file: str,
                  delivery: DeliveryConfig | None = None) -> dict[str, Any]:
    """One tick: its task-grain steps as task runs of this one flow run."""
    return tick_steps.orchestrate(_plain(url), campaign, act, outbox_file, delivery, _run_task)


def _tick_steps(url: str, campaign: str, act: Act, outbox_file: str, delivery: DeliveryConfig | None) -> dict[str, Any]:
    return tick_steps.orchestrate(url, campaign, act, outbox_file, delivery, tick_steps.direct_call)


_TICK_TASK = task(name="tick", task_run_name="tick {act.at:%Y-%m-%d %H:%M} UTC", **_TASK_OPTIONS)(_tick_steps)


@flow(name="campaign-ticks", flow_run_name="{campaign} {start:%Y-%m-%d %H:%M} .. {until:%Y-%m-%d %H:%M} UTC",
      **_FLOW_OPTIONS)
def campaign_ticks(url: str | SecretStr, campaign: str, start: dt.datetime, until: dt.datetime, every: dt.timedelta,
                   actor: str, outbox_file: str, delivery: DeliveryConfig | None = None,
                   clock: Callable[[], dt.datetime] | None = None) -> list[dict[str, Any]]:
    """Successive ticks (a simulation) as this one flow run, one task run per tick that runs in full (the idle
    ones are skipped, as in flows.tick.ticks_direct: see tick_steps.Ticker)."""

    plain = _plain(url)
    now = clock or (lambda: dt.datetime.now(dt.UTC))
    ticker = tick_steps.Ticker(plain, campaign, outbox_file, delivery, run=_TICK_TASK)
    try:
        return [ticker.tick(Act(at, actor, now())) for at in tick_steps.instants(start, until, every)]
    finally:
        ticker.close()


def run_tick(url: str, campaign: str, act: Act, outbox_file: str, delivery: DeliveryConfig | None = None) -> dict[str, Any]:
    warm_up()
    act = Act(act.at.astimezone(dt.UTC), act.actor, act.recorded_at)  # the same instant, named in UTC
    return campaign_tick(as_parameter(url), campaign, act, outbox_file, delivery)


def run_ticks(url: str, campaign: str, start: dt.datetime, until: dt.datetime, every: dt.timedelta, actor: str,
              outbox_file: str, delivery: DeliveryConfig | None, clock: Callable[[], dt.datetime]) -> list[dict[str, Any]]:
    warm_up()
    start, until = start.astimezone(dt.UTC), until.astimezone(dt.UTC)  # the same instants, named in UTC
    return campaign_ticks(as_parameter(url), campaign, start, until, every, actor, outbox_file, delivery, clock)


# --- one client per thread, heartbeats off, the API reached once ---

STARTUP_WAIT = 600  # seconds the ephemeral API may take to answer at its start (at least)
_kept = threading.local()  # per thread: the contexts entered for good (held here so that they stay entered)


def prepare_thread() -> None:
    """In this thread, from now on: flow runs send no heartbeats and share one API client (see the module doc)."""
    from prefect.context import SyncClientContext
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, get_current_settings, temporary_settings

    held: list[Any] = _kept.__dict__.setdefault("held", [])
    if get_current_settings().flows.heartbeat_frequency is not None:
        settings = temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None})
        settings.__enter__()
        held.append(settings)
    if SyncClientContext.get() is None:
        client = SyncClientContext()  # the ephemeral API starts here when no other is configured
        client.__enter__()
        held.append(client)


def api_url() -> str | None:
    """The API this process's flow runs use: the configured one, or the ephemeral one once started."""
    from prefect.settings import PREFECT_API_URL

    configured = PREFECT_API_URL.value()
    if configured:
        return str(configured)
    server = _ephemeral_server()
    return server.api_url if server is not None and server.running else None


def _ephemeral_server() -> Any:
    from prefect.server.api.server import SubprocessASGIServer

    return SubprocessASGIServer._instances.get(None)  # noqa: SLF001 - the instance get_client() starts and reuses


def warm_up(log_dir: Path | str | None = None) -> str:
    """Reach the Prefect API (before each flow run; at once is cheap); returns its URL.

    Without PREFECT_API_URL, starts the ephemeral API once per process (what get_client() would start at the
    first flow run) with its output in `log_dir`/server.log (default: PREFECT_HOME) instead of this process's
    terminal; then `prepare_thread()` for the calling thread."""
    from prefect.settings import PREFECT_API_URL, PREFECT_HOME, PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS

    if not PREFECT_API_URL.value() and _ephemeral_server() is None:
        _QuietServer.log_file = Path(log_dir or PREFECT_HOME.value()) / "server.log"
        # waited for in the tick thread, not by a user: a loaded machine may take minutes to import the server,
        # and a start that times out leaves its process behind while the next tick starts another
        _QuietServer().start(timeout=max(int(PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS.value()), STARTUP_WAIT))
    prepare_thread()
    return api_url() or ""


def _quiet_server_class() -> type:
    from prefect.server.api.server import SubprocessASGIServer

    class QuietServer(SubprocessASGIServer):
        """Prefect's ephemeral API subprocess (3.8's own command) with its output in a log file."""

        log_file: Path | None = None

        def _run_uvicorn_command(self) -> Any:
            import subprocess

            import prefect
            from prefect.settings.context import get_current_settings

            assert self.log_file is not None
            self.log_file.parent.mkdir(parents=True, exist_ok=True)
            with self.log_file.open("ab") as out:  # the child keeps its own descriptor
                return subprocess.Popen(
                    [sys.executable, "-m", "uvicorn", "--app-dir", str(prefect.__module_path__.parent), "--factory",
                     "prefect.server.api.server:create_app", "--host", "127.0.0.1", "--port", str(self.port),
                     "--log-level", "error", "--lifespan", "on"],
                    env={**os.environ, "PREFECT_UI_ENABLED": "0", "PREFECT__SERVER_EPHEMERAL": "1",
                         "PREFECT__SERVER_FINAL": "1", **get_current_settings().to_environment_variables(exclude_unset=True)},
                    stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)

    return QuietServer


_QuietServer: Any = _quiet_server_class()
