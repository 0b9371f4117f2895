"""The embedded scheduler (`campaign serve`): APScheduler 3 with its SQLAlchemy job store in the campaign database.

One job per active campaign, id ``tick:<key>``, calls `run_tick_job`, which runs one tick
(`flows.tick.tick`: ONE Prefect flow run `campaign-tick` with a task run per phase, ledger and sending) at
the real clock instant. The jobs live in the table ``apscheduler_jobs`` of the campaign database, so they
survive restarts together with the data. Prefect's API is reached once, at start, by a job of the same
single tick thread (`add_prefect_warm_up`): HTTP answers at once and the first tick does not pay for it.

Schedules
    default   one job whose trigger is every hour at minute 0 *and* the reminder policy's ``send_at``
              (both in the campaign's time zone): an `OrTrigger` of two `CronTrigger`s, or a single
              one when ``send_at`` is on the hour (the hourly trigger covers it). One job rather than
              two keeps the job id equal to the campaign and lets `max_instances=1` and coalescing
              cover both parts.
    custom    `campaign schedule KEY --cron EXPR` replaces the trigger by the crontab expression.
              The job's *name* says which it is: ``default`` or ``cron: EXPR``; the job store is the
              only place the custom expression is kept (no table of our own). `sync_jobs` never
              touches the trigger of a custom job; `--default` restores the default.

Cron expressions (`parse_cron`) follow crontab: five fields ``minute hour day month weekday`` with
weekday 0 or 7 = Sunday (translated for APScheduler, whose numbering starts at Monday), or six with
the seconds first (``*/2 * * * * *``: every 2 s, for tests). When both day and weekday are
restricted, both must match (APScheduler; `campaign deploy` asks Prefect for the same).

Catch-up
    ``coalesce=True`` folds all the run times missed while the scheduler was stopped (or the
    machine asleep) into one run, and ``misfire_grace_time`` (default 3600 s) lets that run happen
    if the latest missed run time is at most that old: with the hourly default a restart or a wake-up
    always runs exactly one catch-up tick. (A custom cron with longer gaps needs a larger grace —
    `campaign serve --misfire-grace`, 0 = no limit — or the missed run is dropped and logged.)
    ``max_instances=1``: a run time that comes while the campaign's previous tick is still running is
    skipped, not queued. Ticks run one at a time (one worker thread; SQLite has one writer).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any
from zoneinfo import ZoneInfo

from apscheduler.events import (
    EVENT_JOB_ERROR,
    EVENT_JOB_EXECUTED,
    EVENT_JOB_MAX_INSTANCES,
    EVENT_JOB_MISSED,
    JobExecutionEvent,
    JobSubmissionEvent,
)
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.job import Job
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import STATE_STOPPED
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.combining import OrTrigger
from apscheduler.triggers.cron import CronTrigger

from campaign_model.errors import ConflictError, InvalidInput
from flows import SCHEDULER_ACTOR
from notifications.settings import DeliveryConfig

log = logging.getLogger("campaignflow.schedule")

JOBS_TABLE = "apscheduler_jobs"
JOB_PREFIX = "tick:"
DEFAULT_NAME = "default"
CUSTOM_PREFIX = "cron: "
MISFIRE_GRACE = 3600


def job_id(campaign: str) -> str:
    return f"{JOB_PREFIX}{campaign}"


# --- the job ---

def redact(text: str, db_url: str) -> str:
    """One line, without the database password."""
    try:
        from sqlalchemy.engine import make_url

        password = make_url(db_url).password
    except Exception:
        password = None
    if password:
        text = text.replace(str(password), "***")
        from urllib.parse import quote_plus

        text = text.replace(quote_plus(str(password)), "***")
    line = " ".join(text.split())
    return line if len(line) <= 300 else line[:297] + "..."


# The delivery settings of the process that runs the jobs (`campaign serve` gives its own, `use_delivery`):
# a job in the store keeps only its campaign's arguments, so that the serving process's settings govern,
# never those of whichever command last wrote the job.
_delivery: DeliveryConfig | None = None


def use_delivery(config: DeliveryConfig) -> None:
    """The delivery settings the jobs of this process send with (the serving process, at its start)."""
    global _delivery
    _delivery = config


def run_tick_job(db_url: str, campaign: str, outbox_file: str) -> None:
    """The scheduled job: one tick of `campaign` at the real clock instant; never raises.

    Referenced by the persistent job store as ``flows.schedule:run_tick_job``. A failed tick is logged
    as one line (without the database password) and the scheduler goes on. The process has prepared
    Prefect's environment before it started its scheduler (`campaign serve`).
    """
    try:
        from campaign_model.store.audit import Act
        from flows.tick import tick

        now = dt.datetime.now(dt.UTC)
        r = tick(db_url, campaign, Act(now, SCHEDULER_ACTOR, now), outbox_file, _delivery)
        log.info("检查完成 (tick done) %s at %s: advanced=%s overdue+%s planned=%s sent=%s written-to-file=%s",
                 campaign, r.get("at"), ",".join(r.get("advanced") or []) or "-", r.get("overdue_marked"),
                 r.get("reminders_planned"), r.get("reminders_sent"), r.get("reminders_written"))
    except BaseException as exc:  # noqa: BLE001 - the scheduler must keep going whatever a tick does
        log.error("检查失败 (tick failed) %s: %s", campaign, redact(f"{type(exc).__name__}: {exc}", db_url))


PREFECT_JOB_ID = "prefect:warm-up"


def run_prefect_warm_up() -> None:
    """Reach Prefect's API (start the ephemeral one) in the tick thread; never raises (one log line)."""
    import time

    try:
        started = time.monotonic()
        from flows.tick_flow import warm_up

        url = warm_up()
        log.info("Prefect API 就绪 (ready) %s in %.1f s: 每次定时检查是其上的一次流程运行 (each scheduled tick is a "
                 "flow run there)", url, time.monotonic() - started)
    except BaseException as exc:  # noqa: BLE001 - the ticks will try again, each in its own run
        log.error("Prefect API 不可用 (unavailable): %s", " ".join(f"{type(exc).__name__}: {exc}".split())[:300])


def add_prefect_warm_up(scheduler: BackgroundScheduler) -> Job:
    """A one-off job, due now, in the in-memory store: runs before any tick (one tick thread)."""
    from apscheduler.jobstores.memory import MemoryJobStore

    if "memory" not in scheduler._jobstores:  # noqa: SLF001 - APScheduler 3 has no public "has store"
        scheduler.add_jobstore(MemoryJobStore(), "memory")
    return scheduler.add_job(run_prefect_warm_up, trigger="date", run_date=dt.datetime.now(dt.UTC),
                             id=PREFECT_JOB_ID, name="prefect", jobstore="memory", replace_existing=True,
                             misfire_grace_time=None)


# --- cron expressions and the default schedule ---

_DAYS = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]
_FIELDS5 = ("minute", "hour", "day", "month", "day_of_week")
_FIELDS6 = ("second",) + _FIELDS5


def _cron_error(expr: str, reason: str) -> InvalidInput:
    return InvalidInput(
        f"无法识别的 cron 表达式 '{expr}'：{reason}；应写作 5 段「分 时 日 月 周」如 '0 9 * * 1-5'，"
        f"或 6 段「秒 分 时 日 月 周」如 '*/2 * * * * *' "
        f"(cannot read cron expression '{expr}': {reason}; use 5 fields 'minute hour day month weekday', "
        f"e.g. '0 9 * * 1-5', or 6 with the seconds first, e.g. '*/2 * * * * *')", field="cron")


def _day_number(token: str) -> int:
    t = token.lower()
    if t in _DAYS:
        return _DAYS.index(t)
    if not t.isdigit() or int(t) > 7:
        raise ValueError(f"星期应为 0-7 或 sun-sat (weekday must be 0-7 or sun-sat): '{token}'")
    return int(t) % 7


def _weekdays(field: str) -> str:
    """A crontab weekday field (0/7 = Sunday) as APScheduler day names (which number from Monday)."""
    days: set[int] = set()
    for item in field.split(","):
        body, _, step_text = item.partition("/")
        if step_text and (not step_text.isdigit() or int(step_text) == 0):
            raise ValueError(f"步长无效 (bad step): '{item}'")
        step = int(step_text) if step_text else 1
        if body in ("*", "?"):
            lo, hi = 0, 6
        elif "-" in body:
            a, b = body.split("-", 1)
            lo, hi = _day_number(a), _day_number(b)
            if b.strip() == "7":
                hi = 7
            if hi < lo:
                raise ValueError(f"范围颠倒 (range runs backwards): '{item}'")
        else:
            lo = _day_number(body)
            hi = 6 if step_text else lo
        days.update(d % 7 for d in range(lo, hi + 1, step))
    if not days:
        raise ValueError(f"星期为空 (no weekday): '{field}'")
    return "*" if days == set(range(7)) else ",".join(_DAYS[d] for d in sorted(days))


def parse_cron(expr: str, tz: ZoneInfo | str) -> CronTrigger:
    """A crontab expression (5 fields, or 6 with the seconds first) as a trigger in the zone `tz`."""
    zone = ZoneInfo(tz) if isinstance(tz, str) else tz
    parts = expr.split()
    if len(parts) not in (5, 6):
        raise _cron_error(expr, f"应有 5 或 6 段，实有 {len(parts)} 段 (expected 5 or 6 fields, got {len(parts)})")
    fields = dict(zip(_FIELDS5 if len(parts) == 5 else _FIELDS6, parts, strict=False))
    if len(parts) == 5:
        fields["second"] = "0"
    try:
        fields["day_of_week"] = _weekdays(fields["day_of_week"])
        trigger = CronTrigger(timezone=zone, **fields)
    except ValueError as exc:
        raise _cron_error(expr, str(exc)) from None
    if trigger.get_next_fire_time(None, dt.datetime.now(zone)) is None:
        raise _cron_error(expr, "永远不会触发 (it never fires)")
    return trigger


def default_crons(send_at: str) -> list[str]:
    """The default schedule as crontab lines: hourly at minute 0, and at the policy's send time."""
    hour, minute = (int(x) for x in send_at.split(":"))
    hourly = "0 * * * *"
    return [hourly] if minute == 0 else [hourly, f"{minute} {hour} * * *"]


def default_triggers(send_at: str, tz: ZoneInfo | str) -> BaseTrigger:
    """Hourly at minute 0 OR at `send_at` (HH:MM) in the campaign's zone — one trigger for one job."""
    triggers = [parse_cron(c, tz) for c in default_crons(send_at)]
    return triggers[0] if len(triggers) == 1 else OrTrigger(triggers)


def trigger_tz(trigger: BaseTrigger) -> Any:
    if isinstance(trigger, OrTrigger):
        return trigger_tz(trigger.triggers[0])
    return getattr(trigger, "timezone", dt.UTC)


def next_times(trigger: BaseTrigger, count: int = 3, after: dt.datetime | None = None) -> list[dt.datetime]:
    """The next `count` fire times of a trigger, in its zone."""
    now = after or dt.datetime.now(dt.UTC)
    times: list[dt.datetime] = []
    t = trigger.get_next_fire_time(None, now)
    while t is not None and len(times) < count:
        times.append(t.astimezone(trigger_tz(trigger)))
        t = trigger.get_next_fire_time(t, t + dt.timedelta(microseconds=1))
    return times


def job_cron(job: Job) -> str | None:
    """The custom cron expression of a tick job, or None for the default schedule."""
    name = job.name or ""
    return name[len(CUSTOM_PREFIX):] if name.startswith(CUSTOM_PREFIX) else None


def job_campaign(job: Job) -> str | None:
    return job.id[len(JOB_PREFIX):] if job.id.startswith(JOB_PREFIX) else None


# --- the scheduler and its jobs ---

class CampaignScheduler(BackgroundScheduler):
    """APScheduler's background scheduler that runs nothing once stopped, or ever when `store_only`.

    (APScheduler 3.11 processes due jobs once more after `shutdown()` when woken, and then fails to
    submit them to the executor it just shut down; commands that only edit the job store run no job.)
    """

    store_only = False

    def _process_jobs(self) -> float | None:
        if self.store_only or self.state == STATE_STOPPED:
            return None
        return super()._process_jobs()


def make_scheduler(db_url: str, misfire_grace: int | None = MISFIRE_GRACE, workers: int = 1) -> CampaignScheduler:
    """A scheduler whose jobs live in the campaign database (table `apscheduler_jobs`).

    `misfire_grace`: seconds a missed run may be late and still run (None or 0: no limit).
    The scheduler's own zone is UTC; each job's trigger carries its campaign's zone.
    """
    from campaign_model.store.db import make_engine

    store = SQLAlchemyJobStore(engine=make_engine(db_url), tablename=JOBS_TABLE)
    return CampaignScheduler(
        jobstores={"default": store},
        executors={"default": ThreadPoolExecutor(max_workers=workers)},
        job_defaults={"coalesce": True, "misfire_grace_time": misfire_grace or None, "max_instances": 1},
        timezone=dt.UTC,
        daemon=True,
    )


@contextmanager
def paused_scheduler(db_url: str, misfire_grace: int | None = MISFIRE_GRACE) -> Iterator[CampaignScheduler]:
    """A scheduler that reads and writes the job store but runs nothing (for the commands)."""
    scheduler = make_scheduler(db_url, misfire_grace)
    scheduler.store_only = True
    scheduler.start(paused=True)
    try:
        yield scheduler
    finally:
        scheduler.shutdown(wait=False)


def active_campaigns(db_url: str) -> dict[str, tuple[str, str]]:
    """key -> (time zone, send_at) of every campaign a tick still has work for: a phase not completed,
    or an obligation not done (reminders go on in a completed phase)."""
    from sqlalchemy import exists, or_, select

    from campaign_model.store.tables import campaigns, obligations, phases
    from flows.steps import engine_for

    open_phase = exists().where(phases.c.campaign_id == campaigns.c.id, phases.c.state != "completed")
    open_obligation = exists().where(obligations.c.campaign_id == campaigns.c.id, obligations.c.done.is_(False))
    with engine_for(db_url).connect() as conn:
        rows = conn.execute(select(campaigns.c.key, campaigns.c.timezone, campaigns.c.reminders)
                            .where(or_(open_phase, open_obligation)).order_by(campaigns.c.key)).all()
    return {r.key: (r.timezone, (r.reminders or {}).get("send_at") or "09:00") for r in rows}


def _job_settings(misfire_grace: int | None) -> dict[str, Any]:
    return {"coalesce": True, "misfire_grace_time": misfire_grace or None, "max_instances": 1}


def sync_jobs(scheduler: BackgroundScheduler, db_url: str, outbox_for: Callable[[str], str],
              misfire_grace: int | None = MISFIRE_GRACE) -> dict[str, list[str]]:
    """One tick job per active campaign, none for the others.

    A missing job is added with the default schedule. A custom schedule is kept as it is; a default one
    is rescheduled only when the campaign's zone or send time changed. Otherwise only the job's
    arguments and settings are brought up to date, which keeps its next run time: the catch-up after a
    restart depends on it. The scheduler must be started (paused is enough).
    """
    wanted = active_campaigns(db_url)
    done: dict[str, list[str]] = {"added": [], "kept": [], "updated": [], "removed": []}
    settings = _job_settings(misfire_grace)
    existing = {c: j for j in scheduler.get_jobs() if (c := job_campaign(j)) is not None}
    for key, job in existing.items():
        if key not in wanted:
            scheduler.remove_job(job.id)
            done["removed"].append(key)
    for key, (tz, send_at) in wanted.items():
        args = (db_url, key, outbox_for(key))
        job = existing.get(key)
        if job is None:
            scheduler.add_job(run_tick_job, trigger=default_triggers(send_at, tz), args=args, id=job_id(key),
                              name=DEFAULT_NAME, replace_existing=True, **settings)
            done["added"].append(key)
            continue
        changes = {k: v for k, v in settings.items() if getattr(job, k) != v}
        if tuple(job.args) != args:
            changes["args"] = args
        if job_cron(job) is None and repr(job.trigger) != repr(default_triggers(send_at, tz)):
            scheduler.reschedule_job(job.id, trigger=default_triggers(send_at, tz))
            changes.setdefault("name", DEFAULT_NAME)
        if job_cron(job) is None and job.name != DEFAULT_NAME:
            changes["name"] = DEFAULT_NAME
        if changes:
            scheduler.modify_job(job.id, **changes)
        done["updated" if changes else "kept"].append(key)
    return done


def set_schedule(scheduler: BackgroundScheduler, db_url: str, campaign: str, cron: str | None,
                 outbox_file: str, misfire_grace: int | None = MISFIRE_GRACE) -> Job:
    """Give a campaign's tick job a custom cron (or the default with None); its next run is recomputed."""
    from campaign_model.store.campaigns import load_ctx
    from flows.steps import engine_for

    with engine_for(db_url).connect() as conn:
        ctx = load_ctx(conn, campaign)  # NotFound names the known campaigns
    trigger = parse_cron(cron, ctx.tz) if cron is not None else default_triggers(ctx.policy.send_at, ctx.tz)
    if campaign not in active_campaigns(db_url):
        raise ConflictError(f"活动 '{campaign}' 已全部完成，无需定时检查 (campaign '{campaign}' is complete: "
                            f"nothing left for a tick to do)")
    name = DEFAULT_NAME if cron is None else f"{CUSTOM_PREFIX}{' '.join(cron.split())}"
    return scheduler.add_job(run_tick_job, trigger=trigger, args=(db_url, campaign, outbox_file), id=job_id(campaign),
                             name=name, replace_existing=True, **_job_settings(misfire_grace))


def job_doc(job: Job) -> dict[str, Any]:
    """What `campaign jobs` shows of a job: campaign, schedule, next run (in the campaign's zone)."""
    tz = trigger_tz(job.trigger)
    nxt = getattr(job, "next_run_time", None)
    return {"id": job.id, "campaign": job_campaign(job), "schedule": job_cron(job) or DEFAULT_NAME,
            "trigger": str(job.trigger), "next_run": nxt.astimezone(tz).isoformat() if nxt else None}


# --- logging what the scheduler does (one line per run: the observable of tests and operators) ---

def log_events(scheduler: BackgroundScheduler) -> None:
    """Log each run of a job with its scheduled time, and each run time missed or skipped."""

    # run times already carry their trigger's zone; looking the job up here would take the job store
    # lock, which shutdown() holds while it waits for this very thread: a deadlock on SIGTERM
    def local(job_id_: str, t: dt.datetime, zone_of: dt.datetime | None = None) -> str:
        return t.astimezone((zone_of or t).tzinfo).isoformat()

    def on_event(event: Any) -> None:
        try:
            if isinstance(event, JobExecutionEvent):
                finished = dt.datetime.now(dt.UTC)
                when = local(event.job_id, event.scheduled_run_time)
                if event.code == EVENT_JOB_MISSED:
                    log.warning("错过运行 (run missed) %s: scheduled %s (later than the misfire grace)",
                                event.job_id, when)
                else:
                    log.info("已运行 (job ran) %s: scheduled %s finished %s", event.job_id, when,
                             local(event.job_id, finished, event.scheduled_run_time))
            elif isinstance(event, JobSubmissionEvent):
                log.info("跳过 (skipped: previous tick still running) %s: scheduled %s", event.job_id,
                         ", ".join(local(event.job_id, t) for t in event.scheduled_run_times))
        except Exception:  # a listener must not break the scheduler
            pass

    scheduler.add_listener(on_event, EVENT_JOB_EXECUTED | EVENT_JOB_ERROR | EVENT_JOB_MISSED | EVENT_JOB_MAX_INSTANCES)


def run_now(scheduler: BackgroundScheduler, campaign: str) -> None:
    """Run a campaign's tick job as soon as possible (after "remind now"); a tick already running makes it wait."""
    job = scheduler.get_job(job_id(campaign))
    if job is not None:
        job.modify(next_run_time=dt.datetime.now(dt.UTC))
        scheduler.wakeup()


def request_run(db_url: str, campaign: str) -> None:
    """From another process: the campaign's tick job is due now; the serving scheduler runs it at its next
    look at the job store (within WAKEUP seconds of `serve`)."""
    with paused_scheduler(db_url) as scheduler:
        job = scheduler.get_job(job_id(campaign))
        if job is not None:
            job.modify(next_run_time=dt.datetime.now(dt.UTC))
