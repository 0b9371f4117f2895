#!/usr/bin/env python
"""Benchmark of email dispatch (not a test): 10,000 reminders to a loopback SMTP server; see bench/README.md.

Builds a campaign of N units (each with an email contact) x R requirements in a fresh SQLite file, all
overdue at one instant inside the send window, and runs one `tick_direct`: it plans the N x R overdue
reminders and sends one digest per unit by email, over the one connection `EmailChannel` keeps open, to
an aiosmtpd server running in a separate process (so that it does not share the sender's GIL). The
baseline, measured in the same run against the same server: raw `smtplib` sends of as many prebuilt
messages (bytes) over one connection, the ceiling for any sender on this machine.
"""

from __future__ import annotations

import argparse
import datetime as dt
import email.policy
import json
import multiprocessing as mp
import os
import shutil
import smtplib
import socket
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Self
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
TZ = ZoneInfo("Asia/Shanghai")
KEY = "bench-smtp"
# the phase runs 03-06 .. 03-31 (2023); everything is due Friday 03-10, so the first overdue reminder is
# Monday 03-13 09:00, and the tick at 10:00 that day (inside the 09:00-18:00 window) plans and sends them all
T_CREATE = dt.datetime(2023, 3, 1, 9, 0, tzinfo=TZ)
T_START = dt.datetime(2023, 3, 6, 8, 0, tzinfo=TZ)
T_SEND = dt.datetime(2023, 3, 13, 10, 0, tzinfo=TZ)
TARGET_MSG_S = 200.0
SENDER = "县教育局督导组 <robot@example.cn>"


# --- the SMTP server, in a process of its own


def serve(port: int, received: Any, connections: Any, ready: Any, stop: Any) -> None:
    """aiosmtpd on 127.0.0.1:port that counts messages and connections and keeps nothing."""
    import logging

    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import SMTP

    logging.getLogger("mail.log").setLevel(logging.ERROR)

    class Count:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            with received.get_lock():
                received.value += 1
            return "250 OK"

    class Counting(Controller):
        def factory(self) -> SMTP:
            with connections.get_lock():
                connections.value += 1
            return super().factory()

    controller = Counting(Count(), hostname="127.0.0.1", port=port)
    controller.start()
    connections.value = 0  # the controller's own check that the server is up
    ready.set()
    stop.wait()
    controller.stop()


class Server:
    def __init__(self) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        ctx = mp.get_context("spawn")  # a clean interpreter: no SQLAlchemy or Prefect state inherited
        self.received, self.connections = ctx.Value("l", 0), ctx.Value("l", 0)
        self._ready, self._stop = ctx.Event(), ctx.Event()
        self._proc = ctx.Process(target=serve, args=(self.port, self.received, self.connections, self._ready,
                                                     self._stop), daemon=True)

    def __enter__(self) -> Self:
        self._proc.start()
        if not self._ready.wait(60):
            raise RuntimeError("the SMTP server process did not start")
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._proc.join(30)

    def reset(self) -> None:
        with self.received.get_lock():
            self.received.value = 0
        with self.connections.get_lock():
            self.connections.value = 0

    def wait_received(self, n: int, timeout: float = 30) -> int:
        deadline = time.monotonic() + timeout
        while self.received.value < n and time.monotonic() < deadline:
            time.sleep(0.01)
        return self.received.value


# --- the campaign


def spec_text(n_units: int, n_reqs: int, units_csv: Path) -> str:
    """The spec, its schools in a unit list (`units_csv`, as a county keeps it): a spec is at most 1 MB."""
    units_csv.write_text("key,name,parent,tags,contact,email\nbureau,县教育局,,,,\n" + "".join(
        f"s{i:05d},学校{i:05d},bureau,学校,校长{i:05d},s{i:05d}@example.cn\n" for i in range(n_units)), encoding="utf-8")
    lines = ["version: 1", f"key: {KEY}", "title: 2023年作风整顿（邮件基准）", "timezone: Asia/Shanghai",
             "calendar: cn", "organizer: bureau", f"units_file: {units_csv.name}"]
    lines.append("artifacts:")
    lines += [f"  r{j:02d}: {{title: 自查材料{j:02d}}}" for j in range(n_reqs)]
    lines += ["phases:", "  - key: check", "    title: 自查自纠", "    kind: self_check",
              "    start: 2023-03-06", "    end: 2023-03-31", "    steps:",
              "      - key: report", "        title: 自查报告", "        due: 2023-03-10", "        requires:"]
    lines += [f"          - {{artifact: r{j:02d}, from: 'tag:学校'}}" for j in range(n_reqs)]
    lines += ["reminders:", "  before: []", "  on_due: false", '  overdue_every: "1 workday"', '  send_at: "09:00"']
    return "\n".join(lines) + "\n"


# --- instruments (the product runs unchanged; methods are wrapped with timers for the run)


class Timers:
    def __init__(self) -> None:
        self.spent: dict[str, list[float]] = defaultdict(list)

    def wrap(self, owner: Any, name: str, label: str | None = None) -> Callable[[], None]:
        """Time every call of owner.name; returns the undo."""
        original = getattr(owner, name)
        spent = self.spent[label or name]

        def timed_call(*args: Any, **kwargs: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                spent.append(time.perf_counter() - t0)

        setattr(owner, name, timed_call)
        return lambda: setattr(owner, name, original)

    def total(self, label: str) -> float:
        return sum(self.spent.get(label, []))


@contextmanager
def transactions(engine: Any) -> Iterator[list[tuple[float, list[str]]]]:
    """Each `engine.begin()` block, commit included: (seconds, the SQL it ran)."""
    from sqlalchemy import event

    blocks: list[tuple[float, list[str]]] = []
    statements: list[str] = []
    original = engine.begin

    @contextmanager
    def begin() -> Iterator[Any]:
        start, t0 = len(statements), time.perf_counter()
        with original() as conn:
            yield conn
        blocks.append((time.perf_counter() - t0, statements[start:]))

    def after(conn: Any, cursor: Any, statement: str, *rest: Any) -> None:
        statements.append(" ".join(statement.split()))

    event.listen(engine, "after_cursor_execute", after)
    engine.begin = begin
    try:
        yield blocks
    finally:
        del engine.begin  # the instance attribute: back to Engine.begin
        event.remove(engine, "after_cursor_execute", after)


def baseline(port: int, n: int, message: bytes) -> float:
    """Raw smtplib: n prebuilt messages over one connection; seconds."""
    t0 = time.perf_counter()
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as smtp:
        for i in range(n):
            smtp.sendmail("robot@example.cn", [f"s{i:05d}@example.cn"], message)
    return time.perf_counter() - t0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--units", type=int, default=10000, help="units with an email contact (one digest each)")
    ap.add_argument("--requirements", type=int, default=1, help="overdue requirements per unit (reminders per digest)")
    ap.add_argument("--plain", action="store_true",
                    help="time the send step only, without the per-message breakdown (its timers cost a little)")
    ap.add_argument("--keep", action="store_true", help="keep the temporary data directory")
    args = ap.parse_args()

    home = Path(tempfile.mkdtemp(prefix="campaignflow-bench-smtp-"))
    os.environ["CAMPAIGN_HOME"] = str(home)
    os.environ["PREFECT_HOME"] = str(home / "prefect")
    from campaign_app.settings import Settings

    Settings.from_env().prepare_prefect()

    with Server() as server:
        channels = home / "channels.yaml"
        channels.write_text(f"channels:\n  - {{name: mail, type: email, host: 127.0.0.1, port: {server.port}, "
                            f"security: none, sender: '{SENDER}'}}\n", encoding="utf-8")
        os.environ["CAMPAIGN_CHANNELS"] = str(channels)
        fig = run(args, home, server)

    out = ROOT / "bench" / "out"
    out.mkdir(parents=True, exist_ok=True)
    (out / "bench_smtp.json").write_text(json.dumps(fig, indent=2, ensure_ascii=False, default=str))
    print(f"\nfigures written to {out / 'bench_smtp.json'}")
    if args.keep:
        print(f"data kept in {home}")
    else:
        shutil.rmtree(home, ignore_errors=True)
    return 0


def run(args: argparse.Namespace, home: Path, server: Server) -> dict[str, Any]:
    from campaign_model.specfile import load_spec_text
    from campaign_model.store.audit import Act
    from campaign_model.store.campaigns import create_campaign, load_ctx
    from campaign_model.store.outbox import counts
    from flows import steps
    from flows.tick import tick_direct
    from notifications import dispatch
    from notifications.channels.email import EmailChannel
    from notifications.render import render

    url = f"sqlite:///{home / 'campaign.db'}"
    outbox_file = str(home / "outbox" / f"{KEY}.jsonl")
    engine = steps.engine_for(url)

    def act(at: dt.datetime) -> Act:
        return Act(at.astimezone(dt.UTC), "bench", dt.datetime.now(dt.UTC))

    n_units, n_reqs = args.units, args.requirements
    fig: dict[str, Any] = {"units": n_units, "requirements": n_reqs, "target_msg_s": TARGET_MSG_S}

    t0 = time.perf_counter()
    with engine.begin() as conn:
        create_campaign(conn, load_spec_text(spec_text(n_units, n_reqs, home / "units.csv"), "<bench>", base_dir=home),
                        act(T_CREATE))
    fig["create_s"] = time.perf_counter() - t0
    tick_direct(url, KEY, act(T_START), outbox_file)

    # the baseline: one digest like those the tick sends (rendered and composed by the product), as bytes
    sample = EmailChannel("mail", "127.0.0.1", server.port, "none", sender=SENDER)
    with engine.connect() as conn:
        ctx = load_ctx(conn, KEY)
    due = dt.datetime(2023, 3, 10, 23, 59, 59, tzinfo=TZ)
    rows = [SimpleNamespace(id=j + 1, unit="s00000", unit_name="学校00000", artifact=f"r{j:02d}", step_title="自查报告",
                            kind="overdue", due_at=due) for j in range(n_reqs)]
    digest = render(KEY, ctx.title, "s00000", "学校00000", [{"email": "s00000@example.cn"}], rows, act(T_SEND).at,
                    ctx.tz, titles={k: v["title"] for k, v in ctx.artifacts.items()}, messages=ctx.messages)
    raw = sample.compose(digest).as_bytes(policy=email.policy.compat32.clone(linesep="\r\n"))  # SMTP wants CRLF
    fig["message_bytes"] = len(raw)
    server.reset()
    fig["baseline_s"] = baseline(server.port, n_units, raw)
    fig["baseline_received"] = server.wait_received(n_units)
    fig["baseline_msg_s"] = n_units / fig["baseline_s"]

    # the product: one tick that plans everything and sends it
    server.reset()
    timers = Timers()
    undo = [timers.wrap(steps, name) for name in ("check_deadlines", "plan_reminders", "send_reminders")]
    if not args.plain:
        undo += [timers.wrap(EmailChannel, "send"), timers.wrap(EmailChannel, "compose"),
                 timers.wrap(dispatch, "render")]
    # tick_direct calls the steps through the module, send_due calls render through its: the wrappers see them
    try:
        with transactions(engine) if not args.plain else nullcontext([]) as blocks:
            t0 = time.perf_counter()
            result = tick_direct(url, KEY, act(T_SEND), outbox_file)
            fig["tick_s"] = time.perf_counter() - t0
    finally:
        for u in undo:
            u()
    messages = server.wait_received(n_units)
    with engine.connect() as conn:
        states = counts(conn, load_ctx(conn, KEY).id)
    fig.update(reminders_planned=result["reminders_planned"], reminders_sent=result["reminders_sent"],
               messages_received=messages, smtp_connections=server.connections.value, outbox_states=states)

    send_s = timers.total("send_reminders")
    fig.update(send_step_s=send_s, plan_step_s=timers.total("plan_reminders"),
               deadlines_step_s=timers.total("check_deadlines"),
               msg_s=messages / send_s, reminders_s=result["reminders_sent"] / send_s,
               ratio_to_baseline=(messages / send_s) / fig["baseline_msg_s"],
               baseline_ms_per_message=fig["baseline_s"] / n_units * 1e3, instrumented=not args.plain)
    record: list[float] = []
    if not args.plain:
        email_s, compose_s, render_s = timers.total("send"), timers.total("compose"), timers.total("render")
        record = [s for s, sql in blocks
                  if any(q.startswith("UPDATE outbox SET state") and "sent_at" in q for q in sql)]
        load = [s for s, sql in blocks
                if any(q.startswith("SELECT") and "FROM outbox JOIN obligations" in q for q in sql)]
        fig["per_message_ms"] = {
            "send step (all)": send_s / messages * 1e3,
            "render (Jinja2 digest)": render_s / messages * 1e3,
            "compose (MIME headers + parts)": compose_s / messages * 1e3,
            "SMTP send (serialise + MAIL/RCPT/DATA)": (email_s - compose_s) / messages * 1e3,
            "record sent (one transaction each)": sum(record) / max(1, len(record)) * 1e3,
            "load due rows (once, amortised)": sum(load) / messages * 1e3,
            "other (rest of the loop, audit, notice)": (send_s - render_s - email_s - sum(record) - sum(load))
            / messages * 1e3,
        }
        fig.update(record_transactions=len(record), record_ms_median=statistics.median(record) * 1e3,
                   record_ms_p99=sorted(record)[int(0.99 * (len(record) - 1))] * 1e3)
    verdict = "PASS" if fig["msg_s"] >= TARGET_MSG_S else "MISS"
    fig["verdict"] = verdict

    print(f"\ncampaignflow email dispatch benchmark: {n_units:,} units x {n_reqs} requirement(s) = "
          f"{n_units * n_reqs:,} reminders in {n_units:,} digests; SQLite; aiosmtpd on 127.0.0.1:{server.port} "
          f"(separate process); digest {fig['message_bytes']:,} bytes"
          + ("" if args.plain else "; with per-message timers"))
    print(f"baseline: raw smtplib, {n_units:,} prebuilt messages over one connection = {fig['baseline_s']:.2f} s, "
          f"{fig['baseline_msg_s']:,.0f} msg/s\n")
    print(f"{'figure':<46}{'measured':>14}{'x baseline':>12}  {'target':<14}verdict")
    print(f"{'send step: messages per second':<46}{fig['msg_s']:>10,.0f} /s{fig['ratio_to_baseline']:>12.2f}  "
          f"{'>= 200 /s':<14}{verdict}")
    print(f"{'send step: reminders per second':<46}{fig['reminders_s']:>10,.0f} /s")
    print(f"{'send step: total':<46}{send_s:>12.2f} s{send_s / fig['baseline_s']:>12.2f}")
    print(f"{'whole tick (deadlines + plan + send)':<46}{fig['tick_s']:>12.2f} s")
    print(f"{'  of which check deadlines':<46}{fig['deadlines_step_s']:>12.2f} s")
    print(f"{'  of which plan reminders':<46}{fig['plan_step_s']:>12.2f} s")
    print(f"{'SMTP connections used by the tick':<46}{fig['smtp_connections']:>14}  {'1 (reuse)':<14}"
          f"{'PASS' if fig['smtp_connections'] == 1 else 'MISS'}")
    print(f"{'messages received / reminders sent':<46}{messages:>7,} / {result['reminders_sent']:,}")
    if not args.plain:
        print(f"\nper message (ms; the baseline's whole send: {fig['baseline_ms_per_message']:.3f} ms):")
        for label, ms in fig["per_message_ms"].items():
            print(f"  {label:<44}{ms:>8.3f} ms{ms / fig['baseline_ms_per_message']:>10.2f} x")
        print(f"  record transaction: median {fig['record_ms_median']:.3f} ms, p99 {fig['record_ms_p99']:.3f} ms "
              f"over {len(record):,} transactions")
    print(f"outbox after the tick: {states}")
    # sanity checks of the benchmark itself, not of the product
    assert fig["baseline_received"] == n_units, f"baseline: the server got {fig['baseline_received']} of {n_units}"
    assert result["reminders_planned"] == n_units * n_reqs, result
    assert messages == n_units, f"the server got {messages} messages, expected {n_units}"
    return fig


if __name__ == "__main__":
    raise SystemExit(main())
