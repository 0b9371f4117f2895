"""Ticks run by a Prefect server and its workers instead of `campaign serve`: a deployment per campaign.

`deploy` registers `scheduled_tick` (a thin flow around `flows.tick_flow.campaign_tick`, taking only JSON
parameters and reading the clock itself) as the deployment ``scheduled-tick/tick-<campaign>`` in a
work pool of type ``process`` (created when missing), with the campaign's schedule as Prefect cron
schedules in the campaign's time zone. The code is not shipped anywhere: the deployment points at the
project directory (`flow.from_source(<dir>, "flows/deploy.py:scheduled_tick")`, whose pull step only
changes the working directory), so a process worker on the same machine, started from an environment
with campaignflow's dependencies, runs it without any network fetch:

    PREFECT_API_URL=http://127.0.0.1:4200/api campaign deploy KEY --pool campaigns
    PREFECT_API_URL=http://127.0.0.1:4200/api prefect worker start --pool campaigns --type process

The database URL is a deployment parameter when it has no password (an SQLite file, a passwordless
PostgreSQL); otherwise it is left out, and the worker's environment must give it (CAMPAIGN_DB_URL). The
outbox file (reminders no channel takes) is the worker's, in its CAMPAIGN_HOME beside its channels file,
unless `deploy` is given one. Use either `campaign serve` or a deployment for a campaign, not both.

The worker has nothing but its environment: `scheduled_tick` is the one place in flows/ that reads it,
building `FlowSettings` (flows/settings.py: the database, the data directory and the sending settings,
declared once and extended by campaign_app's Settings) at that edge and passing plain values down.

Importing this module imports Prefect: prepare Prefect's environment first (campaign_app's
`Settings.prepare_prefect()`).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import os
from pathlib import Path
from typing import Any, cast

from prefect import Flow, flow

from campaign_model.errors import InvalidInput
from flows.settings import FlowSettings

FLOW_NAME = "scheduled-tick"
ENTRYPOINT = "flows/deploy.py:scheduled_tick"
PROJECT_DIR = Path(__file__).resolve().parent.parent


@flow(name=FLOW_NAME, log_prints=False, persist_result=False)
def scheduled_tick(campaign: str, db_url: str | None = None, outbox_file: str | None = None) -> dict[str, Any]:
    """One tick of `campaign` at the clock's instant, as the flow run `campaign-tick` (flows/tick_flow.py: a task
    run per phase, ledger and sending) under this deployment's run.

    `db_url` and `outbox_file` default to the worker's settings (CAMPAIGN_DB_URL / CAMPAIGN_HOME).
    """
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

    from campaign_model.store.audit import Act
    from flows import SCHEDULER_ACTOR, steps
    from flows.tick_flow import as_parameter, campaign_tick

    settings = FlowSettings.from_env()  # the worker's edge: its environment, read once per run
    if db_url is None and not os.environ.get("CAMPAIGN_DB_URL"):
        # the deployment left out a URL with a password: without CAMPAIGN_DB_URL the worker would tick an empty
        # SQLite file of its own and answer "no such campaign"
        raise InvalidInput("部署未包含数据库地址（地址含密码），请在工作进程的环境中设置 CAMPAIGN_DB_URL "
                           "(the deployment carries no database URL, as it has a password: set CAMPAIGN_DB_URL in the "
                           "worker's environment)", field="CAMPAIGN_DB_URL")
    url = db_url or settings.db_url
    out = outbox_file or str(settings.outbox_file(campaign))
    now = dt.datetime.now(dt.UTC)
    act = Act(now, SCHEDULER_ACTOR, now)
    steps.precheck(url, campaign, act)
    # the deployment's run keeps its heartbeats (the server's crash detection); the tick inside needs none
    with temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
        return campaign_tick(as_parameter(url), campaign, act, out, settings.delivery)


def prefect_cron(expr: str) -> str:
    """Our crontab dialect as Prefect's: 6 fields have the seconds first here, last in croniter."""
    parts = expr.split()
    return " ".join(parts[1:] + parts[:1]) if len(parts) == 6 else " ".join(parts)


def schedule_of(db_url: str, campaign: str) -> list[str]:
    """The campaign's schedule in `campaign serve`: its custom cron, or the default ones."""
    from campaign_model.store.campaigns import load_ctx
    from flows.schedule import default_crons, job_cron, job_id, paused_scheduler
    from flows.steps import engine_for

    with engine_for(db_url).connect() as conn:
        ctx = load_ctx(conn, campaign)
    with paused_scheduler(db_url) as scheduler:
        job = scheduler.get_job(job_id(campaign))
    custom = job_cron(job) if job is not None else None
    return [custom] if custom else default_crons(ctx.policy.send_at)


def _has_password(db_url: str) -> bool:
    from sqlalchemy.engine import make_url

    return bool(make_url(db_url).password)


async def _ensure_pool(name: str) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.exceptions import ObjectNotFound
    from prefect.workers.process import ProcessWorker

    async with get_client() as client:
        try:
            pool = await client.read_work_pool(name)
        except ObjectNotFound:
            await client.create_work_pool(WorkPoolCreate(
                name=name, type="process", base_job_template=ProcessWorker.get_default_base_job_template(),
                description="campaignflow ticks"))
            return
    if pool.type != "process":
        raise InvalidInput(f"工作池 '{name}' 的类型是 {pool.type}，需要 process 类型 "
                           f"(work pool '{name}' is of type {pool.type}; campaign deploy needs a process pool)", field="pool")


def deploy(db_url: str, campaign: str, cron: str | list[str] | None, work_pool: str, outbox_file: str | None = None,
           project_dir: Path | str = PROJECT_DIR) -> dict[str, Any]:
    """Register (or update) the deployment `scheduled-tick/tick-<campaign>`; returns what was registered.

    `cron`: one expression or several (5 fields, or 6 with the seconds first); None takes the schedule
    the campaign has in `campaign serve`. `outbox_file`: where the worker writes the reminders no channel
    takes (None: in the worker's own data directory, as its channels come from there). Needs PREFECT_API_URL
    to name a Prefect server.
    """
    import asyncio

    from prefect.schedules import Cron
    from prefect.settings import PREFECT_API_URL

    from campaign_model.store.campaigns import load_ctx
    from flows.schedule import next_times, parse_cron
    from flows.steps import engine_for

    api = PREFECT_API_URL.value()
    if not api:
        raise InvalidInput("未设置 PREFECT_API_URL：campaign deploy 需要一个 Prefect 服务器，如 "
                           "PREFECT_API_URL=http://127.0.0.1:4200/api (PREFECT_API_URL is not set: campaign deploy "
                           "registers a deployment on a Prefect server; start one with `prefect server start`)")
    with engine_for(db_url).connect() as conn:
        ctx = load_ctx(conn, campaign)
    crons = schedule_of(db_url, campaign) if cron is None else [cron] if isinstance(cron, str) else list(cron)
    tz = ctx.tz.key
    nxt = sorted(t for c in crons for t in next_times(parse_cron(c, ctx.tz), 3))[:3]  # our dialect, checked
    try:
        schedules = [Cron(prefect_cron(c), timezone=tz, day_or=False) for c in crons]
    except ValueError as exc:
        raise InvalidInput(f"Prefect 不接受该 cron 表达式 (Prefect refuses the cron expression): "
                           f"{' '.join(str(exc).split())}") from None
    parameters: dict[str, Any] = {"campaign": campaign}
    if outbox_file is not None:
        parameters["outbox_file"] = outbox_file
    if not _has_password(db_url):
        parameters["db_url"] = db_url
    name = f"tick-{campaign}"
    try:
        asyncio.run(_ensure_pool(work_pool))
        # outside an event loop Prefect's from_source returns the Flow itself; its stub says Flow | Coroutine
        source = cast("Flow[..., Any]", flow.from_source(source=str(Path(project_dir).resolve()), entrypoint=ENTRYPOINT))
        with contextlib.redirect_stdout(io.StringIO()):  # Prefect prints a table; ours is the only output
            deployment_id = source.deploy(
                name=name, work_pool_name=work_pool, schedules=schedules, parameters=parameters,
                description=f"campaignflow: 活动 {campaign} 的定时检查 (scheduled ticks of campaign {campaign})",
                tags=["campaignflow", campaign], print_next_steps=False, ignore_warnings=True, build=False, push=False)
    except InvalidInput:
        raise
    except Exception as exc:
        import httpx

        if isinstance(exc, httpx.TransportError) or isinstance(exc.__cause__, httpx.TransportError):
            raise InvalidInput(f"无法连接 Prefect 服务器 {api} (cannot reach the Prefect server at {api}): "
                               f"{type(exc).__name__}") from None
        raise
    return {"deployment": f"{FLOW_NAME}/{name}", "id": str(deployment_id), "work_pool": work_pool,
            "schedules": crons, "timezone": tz, "db_url_parameter": "db_url" in parameters,
            "next_runs": [t.isoformat() for t in nxt], "api_url": api}
