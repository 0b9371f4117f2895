"""Beyond one machine, end to end (issue 14, target 6): two campaigns' ticks through `campaign deploy`, a
`prefect server start` whose database is PostgreSQL, and two process workers, everything on loopback.

One PostgreSQL server (the session's `postgres` fixture) holds two databases, each owned by a role that
logs in with a password (scram-sha-256, not the fixture's `trust`): Prefect's, and campaignflow's. The
campaigns' database URL carries that password, so `campaign deploy` leaves it out of the deployments and
the workers read it from their own environment (CAMPAIGN_DB_URL), as an operator would set them up. Both
campaigns tick every minute; each worker takes one run at a time (`--limit 1`), so the two runs due at the
same minute go to the two workers. The module starts the server and the workers once (a module fixture)
and the tests read what the runs left: in Prefect's API, in the campaigns' database through the CLI, and in
the workers' data directories. Every process's output is kept under the module's temporary directory and
printed when an assertion about it fails.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from .conftest import SMALL_SPEC
from .prefect_support import FINAL, Group, prefect_env, prefect_server, server_sqlalchemy, start_worker

ROOT = Path(__file__).resolve().parent.parent
CAMPAIGN_BIN = Path(sys.executable).with_name("campaign")
KEYS = ("prov-a", "prov-b")
POOL = "province"
WORKERS = ("worker-1", "worker-2")
CF_ROLE, CF_PASSWORD = "province_cf", "cf-Secret-2026"
PF_ROLE, PF_PASSWORD = "province_prefect", "pf-Secret-2026"
WAIT = 300  # seconds for the first scheduled runs: the next whole minute, then a process start and the tick


def spec_for(key: str, today: dt.date) -> str:
    """The small campaign around `today`: its first phase began a week ago and its plan was due five days ago
    (overdue now); every day a working day and reminders sent from 00:00 to 23:59, so that a tick on any day at any
    hour sends the overdue reminders (the default window ends at 18:00: a run after 10:00 UTC only planned them)."""
    def day(n: int) -> str:
        return (today + dt.timedelta(days=n)).isoformat()

    text = SMALL_SPEC
    for old, new in {"2023-02-14": day(-7), "2023-03-05": day(10), "2023-03-06": day(11), "2023-03-31": day(30),
                     "2023-04-05": day(35), "2023-04-06": day(36), "2023-04-30": day(60)}.items():
        text = text.replace(old, new)
    text = text.replace("start + 10 workdays", day(-5)).replace('send_at: "09:00"',
                                                                   'send_at: "00:00"\n  send_until: "23:59"')
    text = text.replace("calendar: cn", "calendar: all-days")
    return text.replace("small-2023", key)


@dataclass
class Province:
    tmp: Path
    api: str
    admin_env: dict[str, str]
    deployments: dict[str, dict[str, Any]]  # campaign -> what `campaign deploy --json` printed
    runs: dict[str, dict[str, Any]]  # campaign -> its deployment's first completed flow run
    processes: dict[str, Group] = field(default_factory=dict)

    def logs(self) -> str:
        """Every process's output, for a failing assertion's message."""
        server = (self.tmp / "server.log").read_text(encoding="utf-8", errors="replace")
        return "\n".join([f"===== server =====\n{server[-6000:]}",
                          *(f"===== {name} ({g.log}) =====\n{g.text()[-6000:]}" for name, g in self.processes.items())])

    def campaign(self, *args: str) -> subprocess.CompletedProcess[str]:
        result = subprocess.run([str(CAMPAIGN_BIN), *args], capture_output=True, text=True, env=self.admin_env,
                                cwd=self.tmp, timeout=180)
        assert "Traceback" not in result.stderr, result.stderr
        assert result.returncode == 0, f"campaign {' '.join(args)}: {result.stdout}\n{result.stderr}"
        return result

    def api_post(self, path: str, body: dict[str, Any]) -> Any:
        answer = httpx.post(f"{self.api}{path}", json=body, timeout=30)
        assert answer.status_code in (200, 201), answer.text
        return answer.json()


def _password_roles(postgres: Any) -> tuple[str, str]:
    """Two roles with passwords and a database each; loopback logins of these two roles must give the password."""
    for role, password in ((CF_ROLE, CF_PASSWORD), (PF_ROLE, PF_PASSWORD)):
        postgres.sql(f"CREATE ROLE {role} LOGIN PASSWORD '{password}'")
        postgres.sql(f"CREATE DATABASE {role} OWNER {role}")
    hba = postgres.dir / "pg_hba.conf"
    hba.write_text(f"host all {CF_ROLE},{PF_ROLE} 127.0.0.1/32 scram-sha-256\n" + hba.read_text())
    postgres.sql("SELECT pg_reload_conf()")
    host = f"127.0.0.1:{postgres.port}"
    return (f"postgresql+psycopg://{CF_ROLE}:{CF_PASSWORD}@{host}/{CF_ROLE}",
            f"postgresql+asyncpg://{PF_ROLE}:{PF_PASSWORD}@{host}/{PF_ROLE}")


def _wait(what: str, check: Any, province_logs: Any, timeout: float = WAIT) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        assert time.monotonic() < deadline, f"{what}: not after {timeout:.0f} s\n{province_logs()}"
        time.sleep(1)


class Background:
    """A call (commands run as subprocesses) in a thread: the campaigns' set-up beside the server's start, the two
    deployments at once. `result()` waits and raises what the call raised."""

    def __init__(self, call: Any):
        self._value: Any = None
        self._error: BaseException | None = None

        def run() -> None:
            try:
                self._value = call()
            except BaseException as exc:  # an assertion in the thread
                self._error = exc

        self._thread = threading.Thread(target=run)
        self._thread.start()

    def result(self) -> Any:
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._value


@pytest.fixture(scope="module")
def province(postgres, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("province")
    cf_url, prefect_db = _password_roles(postgres)
    processes: dict[str, Group] = {}
    p = Province(tmp, "", {}, {}, {}, processes)
    # the administrator's shell: the campaigns' database and a data directory of its own
    p.admin_env = {k: v for k, v in prefect_env(tmp / "admin" / "prefect", None).items() if not k.startswith("CAMPAIGN_")}
    p.admin_env.update(CAMPAIGN_DB_URL=cf_url, CAMPAIGN_HOME=str(tmp / "admin"), CAMPAIGN_ACTOR="省教育厅管理员",
                       PYTHONPATH=str(ROOT))
    today = dt.datetime.now(dt.UTC).astimezone(dt.timezone(dt.timedelta(hours=8))).date()
    for key in KEYS:
        (tmp / f"{key}.yaml").write_text(spec_for(key, today), encoding="utf-8")

    def set_up_campaigns() -> None:
        p.campaign("db", "upgrade")
        for key in KEYS:
            p.campaign("create", str(tmp / f"{key}.yaml"))

    setup = Background(set_up_campaigns)

    server_env = {**prefect_env(tmp / "prefect-server", None), "PREFECT_SERVER_DATABASE_CONNECTION_URL": prefect_db,
                  "PYTHONPATH": str(server_sqlalchemy())}
    with prefect_server(server_env, tmp, tmp / "server.log", timeout=240) as api:
        p.api = api
        p.admin_env["PREFECT_API_URL"] = api
        # the workers' environment: the campaigns' database (password included) and a data directory of their own
        for name in WORKERS:
            worker_env = {"CAMPAIGN_DB_URL": cf_url, "CAMPAIGN_HOME": str(tmp / name)}
            processes[name] = start_worker(POOL, api, tmp / name / "prefect", tmp, tmp / f"{name}.log", worker_env,
                                           name=name, limit=1)
        try:
            with httpx.Client(base_url=api, timeout=30) as http:
                def online() -> bool:
                    for name, g in processes.items():
                        assert g.proc.poll() is None, f"{name} exited\n{p.logs()}"
                    answer = http.post(f"/work_pools/{POOL}/workers/filter", json={})
                    return answer.status_code == 200 and {w["name"] for w in answer.json()
                                                           if w["status"] == "ONLINE"} >= set(WORKERS)

                _wait("both workers online in the pool", online, p.logs, timeout=180)
                setup.result()
                # both deployments at once: their first runs fall due at the same minute
                deploys = {key: Background(lambda key=key: p.campaign("deploy", key, "--pool", POOL, "--cron", "* * * * *",
                                                                      "--json")) for key in KEYS}
                p.deployments = {key: json.loads(d.result().stdout) for key, d in deploys.items()}
                ids = {doc["id"]: key for key, doc in p.deployments.items()}

                def runs() -> list[dict[str, Any]]:
                    found = http.post("/flow_runs/filter", json={"deployments": {"id": {"any_": list(ids)}},
                                                                 "sort": "EXPECTED_START_TIME_ASC"}).json()
                    bad = [r for r in found if r["state_type"] in FINAL and r["state_type"] != "COMPLETED"]
                    assert not bad, f"runs ended badly: {[(r['name'], r['state_name']) for r in bad]}\n{p.logs()}"
                    return list(found)

                def taken() -> bool:  # each deployment has a run a worker took
                    return {ids[r["deployment_id"]] for r in runs() if r["state_type"] != "SCHEDULED"} == set(KEYS)

                _wait("a scheduled run of each deployment taken by a worker", taken, p.logs)
                # stop the schedules (their runs not yet taken are deleted) and let the runs under way end
                for dep_id in ids:
                    assert http.post(f"/deployments/{dep_id}/pause_deployment").status_code in (200, 204)

                def ended() -> dict[str, dict[str, Any]] | None:
                    found = runs()
                    for r in found:  # one the scheduler was inserting as the deployment paused: not to be taken
                        if r["state_type"] == "SCHEDULED":
                            http.delete(f"/flow_runs/{r['id']}")
                    found = [r for r in found if r["state_type"] != "SCHEDULED"]
                    if any(r["state_type"] not in FINAL for r in found):
                        return None
                    first = {ids[r["deployment_id"]]: r for r in reversed(found)}  # the first run of each
                    return first if set(first) == set(KEYS) else None

                p.runs = _wait("the runs under way to end", ended, p.logs, timeout=240)
        finally:
            for g in processes.values():
                g.stop()
            with contextlib.suppress(BaseException):
                setup.result()
        yield p


def test_deploy_keeps_the_password_out_of_the_deployments(province):
    with httpx.Client(base_url=province.api, timeout=30) as http:
        for key, doc in province.deployments.items():
            assert doc["deployment"] == f"scheduled-tick/tick-{key}" and doc["work_pool"] == POOL
            assert doc["schedules"] == ["* * * * *"] and doc["timezone"] == "Asia/Shanghai"
            assert doc["db_url_parameter"] is False  # the URL has a password: the workers' CAMPAIGN_DB_URL gives it
            dep = http.get(f"/deployments/{doc['id']}").json()
            assert dep["parameters"] == {"campaign": key}, dep["parameters"]
            assert CF_PASSWORD not in json.dumps(dep)
        pool = http.get(f"/work_pools/{POOL}").json()
        assert pool["type"] == "process"


def test_scheduled_runs_complete_on_both_workers_with_their_tasks(province):
    ran_by: dict[str, str] = {}
    for key, run in province.runs.items():
        assert run["state_type"] == "COMPLETED" and run["auto_scheduled"], run
        takers = [name for name, g in province.processes.items()
                  if f"Flow run '{run['name']}' submitted to infrastructure" in g.text()]
        assert len(takers) == 1, f"{key}: run {run['id']} in the logs of {takers}\n{province.logs()}"
        ran_by[key] = takers[0]
    print("which worker ran each campaign's first scheduled tick:", ran_by)
    # each worker takes one run at a time and both runs were due at the same minute
    assert set(ran_by.values()) == set(WORKERS), f"{ran_by}\n{province.logs()}"

    for key, run in province.runs.items():
        ticks = province.api_post("/flow_runs/filter", {"flow_runs": {"parent_flow_run_id": {"any_": [run["id"]]}}})
        assert [(t["flow_id"] and t["state_type"]) for t in ticks] == ["COMPLETED"], ticks
        assert ticks[0]["name"].startswith(f"{key} ")  # "prov-a 2026-12-02 09:01 UTC"
        tasks = province.api_post("/task_runs/filter", {"flow_runs": {"id": {"any_": [ticks[0]["id"]]}}})
        assert {t["name"] for t in tasks} == {"open-phases", "phase-mobilization", "ledger", "send"}, tasks
        assert {t["state_type"] for t in tasks} == {"COMPLETED"}


def test_the_ticks_changed_the_campaigns_and_the_audit_chain_verifies(province):
    # the administrator's commands, read-only, at once
    calls = {args: Background(lambda args=args: province.campaign(*args)) for args in (
        *(("status", key, "--json") for key in KEYS), *(("reminders", key, "--json") for key in KEYS),
        ("audit", "log", "--json"), ("audit", "verify"))}
    out = {args: call.result().stdout for args, call in calls.items()}
    for key in KEYS:
        status = json.loads(out["status", key, "--json"])
        assert status["running_phases"] == ["mobilization"]
        assert status["obligations"]["overdue"] == 2  # the two schools' plans
        phase = status["phases"][0]
        assert phase["key"] == "mobilization" and phase["state"] == "active" and phase["started_at"]
        reminders = json.loads(out["reminders", key, "--json"])
        assert {(r["unit"], r["kind"], r["state"]) for r in reminders} == {("s1", "overdue", "sent"),
                                                                           ("s2", "overdue", "sent")}
    events = json.loads(out["audit", "log", "--json"])
    assert {e["actor"] for e in events if e["action"] == "campaign.created"} == {"省教育厅管理员"}
    assert {e["actor"] for e in events if e["action"] != "campaign.created"} == {"scheduler"}
    assert {e["campaign"] for e in events if e["action"] == "phase.started"} == set(KEYS)
    assert "审计链完整" in out["audit", "verify"], out["audit", "verify"]


def test_each_worker_writes_the_outbox_in_its_own_data_directory(province):
    for key, run in province.runs.items():
        taker = next(name for name, g in province.processes.items()
                     if f"Flow run '{run['name']}' submitted to infrastructure" in g.text())
        outbox = province.tmp / taker / "outbox" / f"{key}.jsonl"
        assert outbox.is_file(), f"{outbox} missing\n{province.logs()}"
        lines = [json.loads(line) for line in outbox.read_text(encoding="utf-8").splitlines()]
        assert {line["campaign"] for line in lines} == {key}
        schools = {line["recipient"]: line for line in lines if line["recipient"] in ("s1", "s2")}
        assert set(schools) == {"s1", "s2"} and "已逾期" in schools["s1"]["text"], lines
        assert not (province.tmp / "admin" / "outbox" / f"{key}.jsonl").exists()
