"""A reminder counts as sent only when a real channel took it; one written to the outbox file is said to be so.

With no channel configured every reminder goes to the JSON-lines outbox file: the tick, its audit event and
the phase-audit report say "written to the outbox file, not sent". With an email channel (the real SMTP
server on loopback) the reminders of a unit with an address are sent by mail, the others written to the
file, and each count says which.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from sqlalchemy import select

from campaign_app.cli import _tick_line
from campaign_app.usecases.reports import build_report
from campaign_model.store.audit import Act
from campaign_model.store.tables import audit_events
from flows.tick import tick_direct

from .conftest import SMALL_SPEC, TZ, local
from .loopback import LoopbackSMTP, smtp_server  # noqa: F401 (fixture)

ROOT = Path(__file__).resolve().parent.parent


def reminder_events(engine) -> list[dict]:
    with engine.connect() as conn:
        rows = conn.execute(select(audit_events.c.after).where(audit_events.c.action == "reminders.sent")
                            .order_by(audit_events.c.seq)).scalars().all()
    return [r if isinstance(r, dict) else json.loads(r) for r in rows]


def test_tick_says_reminders_were_written_to_the_outbox_file_when_no_channel_is_configured(tmp_path):
    home = tmp_path / "home"
    empty = tmp_path / "no-channels.yaml"
    empty.write_text("channels: []\n", encoding="utf-8")
    (tmp_path / "spec.yaml").write_text(SMALL_SPEC, encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "CAMPAIGN_HOME": str(home), "CAMPAIGN_CHANNELS": str(empty)}
    for name in ("CAMPAIGN_DB_URL", "CAMPAIGN_PUBLIC_URL"):
        env.pop(name, None)

    def campaign(*args: str) -> str:
        code = "import sys; sys.argv[0] = 'campaign'; from campaign_app.cli import main; main()"
        done = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, env=env,
                              cwd=tmp_path, timeout=300)
        assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
        return done.stdout

    campaign("create", "spec.yaml", "--at", "2023-02-01T09:00")
    # mobilization opens and s1's and s2's plans (due 02-28) are overdue: two reminders, to nobody
    line = campaign("tick", "small-2023", "--at", "2023-03-02T10:00")
    outbox = home / "outbox" / "small-2023.jsonl"
    assert "已发送 (sent) 0," in line
    assert f"未发出，已写入发件箱文件 (not sent, written to the outbox file {outbox}) 2" in line
    assert len([m for m in map(json.loads, outbox.read_text(encoding="utf-8").splitlines())
                if m["recipient"] in ("s1", "s2")]) == 2

    report = tmp_path / "audit.json"
    campaign("report", "small-2023", "--kind", "phase-audit", "--at", "2023-03-02T11:00", "--out", str(report))
    document = json.loads(report.read_text(encoding="utf-8"))
    assert document["deliveries"] == {"file": {"kind": "file", "reminders": 2}}
    page = tmp_path / "audit.html"
    campaign("report", "small-2023", "--kind", "phase-audit", "--at", "2023-03-02T11:00", "--out", str(page))
    text = page.read_text(encoding="utf-8")
    assert "催办 2 次，督办 0 次：未经任何渠道发出，写入发件箱文件 2 条（未发出）" in text
    assert "已发出催办" not in text

    log = json.loads(campaign("audit", "log", "small-2023", "--json"))
    [event] = [e for e in log if e["action"] == "reminders.sent"]
    after = event["after"]
    assert (after["sent"], after["written_to_file"]) == (0, 2)
    assert after["channels"] == {"file": {"kind": "file", "reminders": 2}}


def test_reminders_are_counted_by_channel_mail_sent_and_file_written(engine, db_url, small, tmp_path, monkeypatch,
                                                                     smtp_server: LoopbackSMTP):
    channels = tmp_path / "channels.yaml"
    channels.write_text(f"channels:\n  - {{name: mail, type: email, host: 127.0.0.1, port: {smtp_server.port}, "
                        f'security: none, sender: "教育局 <robot@example.cn>"}}\n', encoding="utf-8")
    monkeypatch.setenv("CAMPAIGN_CHANNELS", str(channels))
    monkeypatch.delenv("CAMPAIGN_PUBLIC_URL", raising=False)
    outbox = tmp_path / "outbox.jsonl"
    at = local("2023-03-02T10:00")
    # s1 has an address (mail); s2 has none (the outbox file): one reminder each
    r = tick_direct(db_url, "small-2023", Act(at, "tick", at), str(outbox))
    assert (r["reminders_planned"], r["reminders_sent"], r["reminders_written"]) == (2, 1, 1)
    assert r["deliveries"] == {"mail": {"kind": "email", "reminders": 1},
                               "file": {"kind": "file", "reminders": 1, "path": str(outbox)}}
    assert [m["To"].addresses[0].addr_spec for m in smtp_server.messages] == ["s1@example.cn"]

    line = _tick_line(r, TZ)
    assert "已发送 (sent) 1 (邮件 mail 1)" in line
    assert f"未发出，已写入发件箱文件 (not sent, written to the outbox file {outbox}) 1" in line

    [after] = reminder_events(engine)
    assert (after["sent"], after["written_to_file"], after["messages"]) == (1, 1, 2)
    assert after["channels"] == {"file": {"kind": "file", "reminders": 1}, "mail": {"kind": "email", "reminders": 1}}

    with engine.connect() as conn:
        report = build_report(conn, "small-2023", "phase-audit", local("2023-03-02T11:00"), None, None, True)
    assert "催办 2 次，督办 0 次：经渠道发出 1 条（邮件 1），写入发件箱文件 1 条（未发出）；审核退回 0 次。" in report.summary
    assert report.document["deliveries"] == {"file": {"kind": "file", "reminders": 1},
                                             "mail": {"kind": "email", "reminders": 1}}
    assert not any(re.search("已发出催办", s) for s in report.summary)
