"""Who a change is recorded as: `--by`, else $CAMPAIGN_ACTOR, else refused (exit 2, saying how to set it) and
nothing changed; never the operating-system user, which on a server is `root` and names nobody in a report.
A tick is the rules' own work: without either it keeps the scheduler's system actor. The real command, in a
subprocess, over a fresh data directory.
"""

from __future__ import annotations

import getpass
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "campaign_model" / "templates" / "zuofeng-2023.yaml"
CODE = "from campaign_app.cli import main; main()"


@pytest.fixture
def campaign(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "CAMPAIGN_ACTOR"}
    env.update({"PYTHONPATH": str(ROOT), "CAMPAIGN_HOME": str(tmp_path / "home")})

    def run(*args: str, actor: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-c", CODE, *args], capture_output=True, text=True, timeout=600,
                              env={**env, **({"CAMPAIGN_ACTOR": actor} if actor else {})}, cwd=tmp_path)

    return run


def actors(run, campaign: str = "zuofeng-2023") -> list[tuple[str, str]]:
    log = run("audit", "log", campaign, "--json")
    assert log.returncode == 0, log.stderr
    return [(e["action"], e["actor"]) for e in json.loads(log.stdout)]


def test_a_change_names_its_actor_from_by_or_the_setting_and_is_refused_without_either(campaign):
    refused = campaign("create", str(TEMPLATE), "--at", "2023-02-01T09:00")
    assert refused.returncode == 2 and "Traceback" not in refused.stderr
    assert "--by 张三" in refused.stderr and "export CAMPAIGN_ACTOR=张三" in refused.stderr
    assert "zuofeng-2023" not in campaign("audit", "log", "--json").stdout  # nothing was created

    assert campaign("create", str(TEMPLATE), "--at", "2023-02-01T09:00", actor="王科员").returncode == 0
    waived = campaign("waive", "zuofeng-2023", "--unit", "school-1", "--artifact", "implementation_plan",
                      "--reason", "学校撤并", "--by", "钱局长", "--at", "2023-02-02T09:00", actor="王科员")
    assert waived.returncode == 0, waived.stderr
    refused = campaign("waive", "zuofeng-2023", "--unit", "school-2", "--artifact", "implementation_plan",
                       "--reason", "学校撤并", "--at", "2023-02-03T09:00")
    assert refused.returncode == 2 and "CAMPAIGN_ACTOR" in refused.stderr
    assert campaign("tick", "zuofeng-2023", "--at", "2023-02-14T10:00").returncode == 0  # the scheduler's work

    logged = actors(campaign)
    assert ("campaign.created", "王科员") in logged and ("obligation.waived", "钱局长") in logged
    assert [a for action, a in logged if action == "obligation.waived"] == ["钱局长"]  # the refused one left nothing
    assert {a for action, a in logged if action.startswith("phase.")} == {"scheduler"}
    assert getpass.getuser() not in {a for _, a in logged}
