"""One gate report: `campaign gate`, `campaign status` and the tick read a phase's gate the same way."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from campaign_model.store.filings import file_artifact
from campaign_model.store.lookback import decide
from flows.steps import evaluate_gate

from .test_lookback import KEY, Run

ROOT = Path(__file__).resolve().parent.parent
CLI = "import sys; sys.argv[0] = 'campaign'; from campaign_app.cli import main; main()"


def _cli(run: Run, *args: str) -> dict | list:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "CAMPAIGN_HOME": str(run.tmp / "home"), "CAMPAIGN_DB_URL": run.url}
    done = subprocess.run([sys.executable, "-c", CLI, *args, "--json"], capture_output=True, text=True, env=env,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_gate_and_status_agree_with_the_tick_on_a_phase_held_only_by_a_pending_recheck(engine, db_url, tmp_path):
    run = Run(engine, db_url, tmp_path)
    run.tick("2023-03-01T09:00")
    run.issues("s1", "2023-03-10T10:00", "会议多落实少")
    run.issues("s2", "2023-03-12T10:00", "值班脱岗")
    run.tick("2023-04-03T09:00")
    run.fix("会议多落实少", "2023-04-20")
    run.fix("值班脱岗", "2023-04-25")
    assert run.tick("2023-05-09T09:00")["advanced"] == ["rectify"]
    run.tick("2023-06-01T09:00")  # the look-back samples both closed items into re-checks
    with engine.begin() as conn:
        file_artifact(conn, run.blobs, KEY, "bureau", "summary", run.act("2023-06-05T10:00", "bureau"))
    with engine.begin() as conn:
        decide(conn, run.item("会议多落实少"), True, "制度坚持执行", run.act("2023-06-08T10:00", "督导组"))

    # past the summary's end: everything filed, the ledger all closed; one re-check still pending holds it
    when = "2023-07-03T09:00"
    r = run.tick(when)
    assert r["advanced"] == [] and r["phases"]["summary"] == "overdue"
    assert evaluate_gate(run.url, KEY, "summary", run.act(when)) is False
    gate = run.status(when)["phases"][2]["gate"]
    assert gate["met"] is False and gate["missing"] == []
    assert gate["conditions"]["met"] is True and gate["conditions"]["rechecks_pending"] == 1
    cli_status = _cli(run, "status", KEY, "--at", when)
    assert cli_status["phases"][2]["gate"] == gate
    summary = next(d for d in _cli(run, "gate", KEY, "--at", when) if d["phase"] == "summary")
    assert summary["met"] is False and summary["artifacts_met"] is True and summary["rechecks_pending"] == 1
    assert summary["conditions_met"] is True and summary["ledger"]["met"] is True

    # the last re-check passes: all three say met, and the tick completes the phase
    with engine.begin() as conn:
        decide(conn, run.item("值班脱岗"), True, "抽查在岗", run.act("2023-07-03T10:00", "督导组"))
    when = "2023-07-03T11:00"
    assert evaluate_gate(run.url, KEY, "summary", run.act(when)) is True
    assert run.status(when)["phases"][2]["gate"]["met"] is True
    summary = next(d for d in _cli(run, "gate", KEY, "--at", when) if d["phase"] == "summary")
    assert summary["met"] is True and summary["rechecks_pending"] == 0
    assert run.tick(when)["advanced"] == ["summary"]
