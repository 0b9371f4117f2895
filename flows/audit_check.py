"""The full verification of the audit chain on a schedule, in the scheduler of `campaign serve`.

A view of the audit page shows the latest recorded verification instead of re-hashing the whole log;
this job re-hashes it once a day (at `AUDIT_CHECK_CRON` in `AUDIT_CHECK_ZONE`) and, when `serve` starts,
at once if the last verification is older than `STALE_AFTER` or there is none. The job lives in an
in-memory job store: it is made anew at each start, the campaign database's job table keeps only the
campaigns' ticks. The check reads in one transaction and records its result in a short second one.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from apscheduler.triggers.cron import CronTrigger

log = logging.getLogger("campaignflow.schedule")

AUDIT_JOB_ID = "audit:verify"
AUDIT_JOB_STORE = "memory"
AUDIT_CHECK_CRON = {"hour": 3, "minute": 0}
AUDIT_CHECK_ZONE = "Asia/Shanghai"
STALE_AFTER = dt.timedelta(days=1)
CHECK_ACTOR = "scheduler"


def check_and_record(db_url: str, by: str = CHECK_ACTOR, now: dt.datetime | None = None) -> dict[str, Any]:
    """Verify the whole chain and keep the result; returns the recorded document."""
    from campaign_model.store import audit
    from campaign_model.store.db import make_engine

    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            verdict, up_to = audit.full_check(conn)
        with engine.begin() as conn:
            return audit.record_check(conn, verdict, up_to, now or dt.datetime.now(dt.UTC), by)
    finally:
        engine.dispose()


def run_audit_check_job(db_url: str) -> None:
    """The scheduled job; never raises (a failure is one log line without the database password)."""
    from .schedule import redact

    try:
        doc = check_and_record(db_url)
        log.info("审计链校验 (audit chain verified) up to #%s: %s", doc["up_to_seq"],
                 "intact" if doc["ok"] else f"BROKEN from #{doc['first_bad']}")
    except BaseException as exc:  # noqa: BLE001 - the scheduler must keep going
        log.error("审计链校验失败 (audit check failed): %s", redact(f"{type(exc).__name__}: {exc}", db_url))


def is_stale(last: dict[str, Any] | None, now: dt.datetime) -> bool:
    return last is None or now - last["checked_at"] >= STALE_AFTER


def add_audit_job(scheduler: Any, db_url: str, now: dt.datetime | None = None) -> Any:
    """Add the daily check to a running (or paused) scheduler; due at once when the last check is stale."""
    from apscheduler.jobstores.memory import MemoryJobStore

    from campaign_model.store import audit
    from campaign_model.store.db import make_engine

    now = now or dt.datetime.now(dt.UTC)
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            stale = is_stale(audit.last_check(conn), now)
    finally:
        engine.dispose()
    if AUDIT_JOB_STORE not in scheduler._jobstores:  # noqa: SLF001 - APScheduler 3 has no public "has store"
        scheduler.add_jobstore(MemoryJobStore(), AUDIT_JOB_STORE)
    extra = {"next_run_time": now} if stale else {}
    return scheduler.add_job(run_audit_check_job, CronTrigger(timezone=AUDIT_CHECK_ZONE, **AUDIT_CHECK_CRON),
                             args=(db_url,), id=AUDIT_JOB_ID, name="audit", jobstore=AUDIT_JOB_STORE,
                             replace_existing=True, coalesce=True, misfire_grace_time=None, max_instances=1, **extra)
