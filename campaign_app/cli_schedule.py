"""The scheduling commands: `campaign serve`, `schedule`, `jobs`, `deploy`.

Registered as top-level commands of `campaign` (campaign_app/cli.py):
    app.registered_commands += schedule_app.registered_commands
Errors are raised as campaign_model.errors (exit 2 with the message, through cli.main()).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import sys
import threading
from typing import Annotated, Any

import typer

from campaign_model.errors import InvalidInput

from .cli_common import JsonOpt, settings
from .settings import Settings

schedule_app = typer.Typer(no_args_is_help=True, help="定时检查 (scheduled ticks)")

GraceOpt = Annotated[int, typer.Option("--misfire-grace", min=0,
                                       help="错过的运行最多迟多少秒仍补跑，0 为不限 (seconds a missed run may be late and "
                                            "still run as the one catch-up tick; 0: no limit)")]

WAKEUP_SECONDS = 10  # a running `serve` re-reads the job store at least this often (changes by `schedule`, sleep)
SYNC_SECONDS = 60  # ... and gives new campaigns their job


def _jobs_text(docs: list[dict[str, Any]]) -> str:
    if not docs:
        return "尚无定时任务 (no jobs)"
    return "\n".join(f"{d['id']:<32} {d['schedule']:<20} 下次运行 (next run) {d['next_run'] or '—'}" for d in docs)


def _emit(doc: Any, as_json: bool, human: str) -> None:
    typer.echo(json.dumps(doc, ensure_ascii=False, indent=2, default=str) if as_json else human)


def _log_to_stderr() -> None:
    """One line per scheduler event on stderr, whatever Prefect configures. Runs missed or skipped are logged
    by flows.schedule.log_events; APScheduler's own logger only for its errors."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    for name, level in (("campaignflow", logging.INFO), ("apscheduler", logging.ERROR)):
        logger = logging.getLogger(name)
        logger.handlers[:] = [handler]
        logger.setLevel(level)
        logger.propagate = False


@schedule_app.command()
def serve(host: Annotated[str, typer.Option("--host", help="HTTP 监听地址 (address to listen on)")] = "127.0.0.1",
          port: Annotated[int, typer.Option("--port", min=0, max=65535, help="HTTP 端口 (port)")] = 8000,
          demo: Annotated[bool, typer.Option("--demo", help="数据库中没有活动时载入演示活动和演示账号 (load the demo "
                                                            "campaign, played up to today, and demo accounts into an "
                                                            "empty database)")] = False,
          workers: Annotated[int | None, typer.Option("--workers", min=1, max=32,
                                                       help="HTTP 工作进程数，默认为 CPU 核数（最多 4）(HTTP worker "
                                                            "processes; default: the CPU count, at most 4)")] = None,
          misfire_grace: GraceOpt = 3600) -> None:
    """运行服务：HTTP 接口、管理页面、公示页，以及定时检查，直到 Ctrl-C / SIGTERM
    (run the service: the HTTP API, the dashboard, the public board and the scheduled ticks)."""
    s = settings()
    s.prepare_prefect()
    from campaign_model.store.db import open_engine

    open_engine(s.db_url).dispose()  # schema up to date before the first tick
    _check_address(host, port)
    _log_to_stderr()
    if demo:
        from .demo import load_live_demo

        loaded = load_live_demo(s, dt.datetime.now(dt.UTC))
        if loaded:
            typer.echo(f"已载入演示活动 (demo loaded): {loaded['campaign']}；演示账号 (demo accounts): "
                       f"{', '.join(loaded['users'])}，密码 (password): {loaded['password']}")
    from flows import schedule as sched
    from flows import tick_flow as _tick_flow  # noqa: F401 - import Prefect now, not in the first job

    sched.use_delivery(s.delivery)  # the jobs of this process send with its settings
    scheduler = sched.make_scheduler(s.db_url, misfire_grace)
    sched.log_events(scheduler)
    scheduler.start(paused=True)
    outbox_for = lambda key: str(s.outbox_file(key))  # noqa: E731
    done = sched.sync_jobs(scheduler, s.db_url, outbox_for, misfire_grace)
    for what, zh in (("added", "新增"), ("removed", "移除")):
        if done[what]:
            typer.echo(f"{zh} ({what}): {', '.join(done[what])}")
    typer.echo(_jobs_text([sched.job_doc(j) for j in scheduler.get_jobs()]))
    from flows.audit_check import add_audit_job

    add_audit_job(scheduler, s.db_url)  # the audit chain's full check: daily, and now when the last is stale
    sched.add_prefect_warm_up(scheduler)  # Prefect's API reached once, now, in the tick thread (each tick: one flow run)

    stop = threading.Event()
    housekeeping = threading.Thread(target=_keep_jobs, args=(stop, scheduler, s, outbox_for, misfire_grace),
                                    name="campaignflow-jobs", daemon=True)
    scheduler.resume()
    housekeeping.start()
    started = dt.datetime.now(dt.UTC)
    typer.echo(f"调度器已启动 (scheduler started) {started.isoformat()}")
    try:
        count = workers or min(os.cpu_count() or 1, 4)
        if count == 1:
            _serve_http(s, host, port, lambda key: sched.run_now(scheduler, key))  # returns on Ctrl-C / SIGTERM
        else:
            _serve_http_workers(host, port, count)
    finally:
        stop.set()
        typer.echo("正在停止，等待运行中的检查结束 (stopping; waiting for a running tick to finish)")
        sys.stdout.flush()
        scheduler.pause()
        scheduler.shutdown(wait=True)
        typer.echo("已停止 (stopped)")


def _keep_jobs(stop: threading.Event, scheduler: Any, s: Settings, outbox_for: Any, misfire_grace: int) -> None:
    """New campaigns get their job; `campaign schedule` changes and a wake from sleep are picked up."""
    from flows import schedule as sched

    seconds = 0
    while not stop.wait(1.0):
        seconds += 1
        try:
            if seconds % SYNC_SECONDS == 0:
                sched.sync_jobs(scheduler, s.db_url, outbox_for, misfire_grace)
            if seconds % WAKEUP_SECONDS == 0:
                scheduler.wakeup()  # wall clock: picks up `campaign schedule` changes and a wake from sleep
        except Exception as exc:  # the database may be briefly unavailable; keep serving
            logging.getLogger("campaignflow.schedule").error("同步任务失败 (job sync failed): %s",
                                                             sched.redact(f"{type(exc).__name__}: {exc}", s.db_url))


def _check_address(host: str, port: int) -> None:
    """A busy or foreign address is a message before anything starts, not a server error after."""
    import socket

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise InvalidInput(f"无法在 {host}:{port} 上监听：{exc.strerror}；请换一个端口 --port 或地址 --host "
                               f"(cannot listen on {host}:{port}: {exc.strerror}; choose another --port or --host)") from None


def _announce(host: str, port: int) -> None:
    shown = "127.0.0.1" if host in ("0.0.0.0", "") else (host if ":" not in host else f"[{host}]")
    typer.echo(f"请在浏览器中打开 (open in a browser): http://{shown}:{port}/   "
               f"接口文档 (API document): http://{shown}:{port}/openapi.json   Ctrl-C 停止 (Ctrl-C stops)")
    sys.stdout.flush()


def _serve_http_workers(host: str, port: int, count: int) -> None:
    """Several uvicorn worker processes on one socket (the scheduler stays in this process): each builds
    the app from the environment (campaign_app.web.app:app_from_env). Returns on Ctrl-C / SIGTERM."""
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    config = uvicorn.Config("campaign_app.web.app:app_from_env", factory=True, host=host, port=port, workers=count,
                            log_level="warning", access_log=False, server_header=False, proxy_headers=False)
    sock = config.bind_socket()
    sock.listen(config.backlog)  # connections queue from now on, until the workers take them
    try:
        supervisor = Multiprocess(config, sockets=[sock])
        _announce(host, sock.getsockname()[1])
        supervisor.run()
    finally:
        sock.close()


def _server_class() -> Any:
    import signal
    from contextlib import contextmanager

    import uvicorn

    class Server(uvicorn.Server):
        """uvicorn re-raises the signal that stopped it; we stop the scheduler after it instead."""

        @contextmanager
        def capture_signals(self) -> Any:
            def on_signal(signum: int, _frame: Any) -> None:
                if self.should_exit:
                    signal.signal(signum, signal.SIG_DFL)  # a second signal ends the process at once
                    self.force_exit = True
                self.should_exit = True

            if threading.current_thread() is not threading.main_thread():
                yield
                return
            previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
            try:
                yield
            finally:
                for sig, handler in previous.items():
                    signal.signal(sig, handler)

    return Server


def _serve_http(s: Settings, host: str, port: int, on_remind: Any) -> None:
    import uvicorn

    from .web.app import served_app

    _Server = _server_class()
    config = uvicorn.Config(served_app(s, on_remind), host=host, port=port, log_level="warning", access_log=False,
                            server_header=False, proxy_headers=False)
    server = _Server(config)

    async def announce() -> None:  # the address once the socket listens (port 0: the one chosen)
        import asyncio

        while not server.started:
            await asyncio.sleep(0.05)
        _announce(host, server.servers[0].sockets[0].getsockname()[1] if server.servers else port)

    async def run() -> None:
        import asyncio

        waiter = asyncio.ensure_future(announce())
        try:
            await server.serve()
        finally:
            waiter.cancel()

    import asyncio

    asyncio.run(run())


@schedule_app.command()
def schedule(campaign: str,
             cron: Annotated[str | None, typer.Option("--cron", help="crontab 表达式：分 时 日 月 周，或 6 段含秒 (crontab: "
                                                                     "minute hour day month weekday; or 6 fields, seconds first)")] = None,
             default: Annotated[bool, typer.Option("--default", help="恢复默认：每小时及催办发送时刻 (restore the default: "
                                                                      "hourly and at the reminders' send time)")] = False,
             as_json: JsonOpt = False) -> None:
    """修改活动的定时检查 (change a campaign's tick schedule; a running serve picks it up within 10 s)."""
    if (cron is None) == (not default):
        raise InvalidInput("请指定 --cron EXPR 或 --default 之一 (give exactly one of --cron EXPR or --default)")
    s = settings()
    from campaign_model.store.db import open_engine

    open_engine(s.db_url).dispose()
    from flows import schedule as sched

    with sched.paused_scheduler(s.db_url) as scheduler:
        job = sched.set_schedule(scheduler, s.db_url, campaign, None if default else cron, str(s.outbox_file(campaign)))
        doc = {**sched.job_doc(job), "next_runs": [t.isoformat() for t in sched.next_times(job.trigger, 5)]}
    _emit(doc, as_json, f"{doc['id']}: {doc['schedule']}\n下次运行 (next runs):\n"
                        + "\n".join(f"  {t}" for t in doc["next_runs"]))


@schedule_app.command()
def jobs(as_json: JsonOpt = False) -> None:
    """列出定时任务及下次运行时刻 (list the tick jobs with their next run time)."""
    s = settings()
    from campaign_model.store.db import open_engine

    open_engine(s.db_url).dispose()
    from flows import schedule as sched

    with sched.paused_scheduler(s.db_url) as scheduler:
        docs = [sched.job_doc(j) for j in scheduler.get_jobs()]
    _emit(docs, as_json, _jobs_text(docs))


@schedule_app.command()
def deploy(campaign: str,
           cron: Annotated[str | None, typer.Option("--cron", help="crontab 表达式；默认与 serve 中的定时相同 "
                                                                   "(crontab; default: the campaign's schedule in serve)")] = None,
           pool: Annotated[str, typer.Option("--pool", help="Prefect 工作池 (process 类型，缺少时创建) "
                                                            "(Prefect work pool, type process; created when missing)")] = "campaignflow",
           as_json: JsonOpt = False) -> None:
    """在 Prefect 服务器上注册定时检查部署 (register the campaign's ticks as a Prefect deployment; needs PREFECT_API_URL)."""
    s = settings()
    s.prepare_prefect()
    from campaign_model.store.db import open_engine

    open_engine(s.db_url).dispose()
    from flows.deploy import deploy as do_deploy

    doc = do_deploy(s.db_url, campaign, cron, pool)  # the outbox file is the worker's (its CAMPAIGN_HOME)
    lines = [f"已注册部署 (deployment registered): {doc['deployment']} @ {doc['api_url']}",
             f"工作池 (work pool): {doc['work_pool']}  定时 (schedules, {doc['timezone']}): {'; '.join(doc['schedules'])}",
             "下次运行 (next runs): " + ", ".join(doc["next_runs"]),
             f"启动工作进程 (start a worker): prefect worker start --pool {doc['work_pool']} --type process"]
    if not doc["db_url_parameter"]:
        lines.append("数据库地址含密码，未写入部署；工作进程须设置 CAMPAIGN_DB_URL "
                     "(the database URL has a password and is not a deployment parameter: set CAMPAIGN_DB_URL for the worker)")
    _emit(doc, as_json, "\n".join(lines))
