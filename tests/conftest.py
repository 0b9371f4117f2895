"""Shared fixtures: a real SQLite database per test, a small campaign spec, explicit instants."""

from __future__ import annotations

import datetime as dt
import glob
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

TZ = ZoneInfo("Asia/Shanghai")

# Prefect (started by the flow tests) keeps its home inside the test data directory, analytics off
_HOME = Path(os.environ.get("CAMPAIGN_TEST_HOME", Path(__file__).resolve().parent.parent / ".campaignflow" / "test"))
os.environ.setdefault("CAMPAIGN_HOME", str(_HOME))
# commands that change state need an actor (--by or $CAMPAIGN_ACTOR): the test runs' own, for commands run without --by
os.environ.setdefault("CAMPAIGN_ACTOR", "测试员")
from campaign_app.settings import Settings  # noqa: E402

from .pg_support import PostgresCluster  # noqa: E402

Settings.from_env().prepare_prefect()

SMALL_SPEC = """\
version: 1
key: small-2023
title: 2023年作风整顿（测试）
calendar: cn
organizer: bureau
units:
  - {key: bureau, name: 教育局}
  - {key: d1, name: 城关学区, parent: bureau, tags: [学区]}
  - {key: s1, name: 第一小学, parent: d1, tags: [学校], contacts: [{name: 张校长, email: s1@example.cn}]}
  - {key: s2, name: 第二小学, parent: d1, tags: [学校]}
artifacts:
  plan: {title: 实施方案}
  issue_list:
    title: 问题清单
    rows:
      problem: {title: 问题, required: true}
      category: {title: 类别, type: choice, choices: [弱, 松, 庸, 慢, 散, 懒, 推, 奢]}
      measure: {title: 整改措施}
      leader: {title: 责任领导}
      office: {title: 牵头股室}
      deadline: {title: 整改时限, type: date, required: true}
  summary: {title: 总结报告}
phases:
  - key: mobilization
    title: 学习动员
    kind: mobilization
    start: 2023-02-14
    end: 2023-03-05
    steps:
      - key: plan
        title: 制定实施方案
        due: start + 10 workdays
        requires:
          - {artifact: plan, from: tag:学校, signoff: true}
  - key: self_check
    title: 自查自纠
    kind: self_check
    start: 2023-03-06
    end: 2023-03-31
    steps:
      - key: issues
        title: 问题清单
        due: 2023-04-05
        requires:
          - {artifact: issue_list, from: tag:学校, review: true}
  - key: summary
    title: 总结提高
    kind: summary
    advance: when_ready
    start: 2023-04-06
    end: 2023-04-30
    steps:
      - key: summary
        title: 总结报告
        due: end
        requires:
          - {artifact: summary, from: organizer}
reminders:
  before: ["3 days", "1 workday"]
  on_due: true
  overdue_every: "2 workdays"
  send_at: "09:00"
"""


def local(text: str) -> dt.datetime:
    """A local (Asia/Shanghai) wall-clock time as an aware instant."""
    return dt.datetime.fromisoformat(text).replace(tzinfo=TZ)


class PostgresServer(PostgresCluster):
    """A throwaway PostgreSQL cluster on loopback, run as the `postgres` user, for the test session: fsync off,
    stopped at once; each test's database is a copy of one migrated template."""

    def __init__(self, root: Path):
        super().__init__(root, "-c fsync=off", stop_mode="immediate")
        self.created = 0

    def start(self) -> None:
        super().start()
        from campaign_model.store.db import open_engine

        self.sql("CREATE DATABASE cf_template")
        open_engine(self.url("cf_template")).dispose()  # migrate once; each test copies it

    def sql(self, statement: str) -> None:
        from sqlalchemy import create_engine, text

        eng = create_engine(self.url("postgres"), isolation_level="AUTOCOMMIT")
        with eng.connect() as conn:
            conn.execute(text(statement))
        eng.dispose()

    def new_database(self) -> str:
        self.created += 1
        name = f"t{self.created}"
        self.sql(f"CREATE DATABASE {name} TEMPLATE cf_template")
        return self.url(name)


@pytest.fixture(scope="session")
def postgres() -> PostgresServer:
    # pytest's own temporary directories are private to root; the server runs as `postgres`
    root = Path(tempfile.mkdtemp(prefix="campaignflow-pg-"))
    server = PostgresServer(root)
    server.start()
    yield server
    server.stop()
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path: Path) -> str:
    """Each storage test runs on the embedded SQLite file and on a real PostgreSQL server."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'campaign.db'}"
    return request.getfixturevalue("postgres").new_database()


@pytest.fixture
def engine(db_url: str):
    from campaign_model.store.db import open_engine

    eng = open_engine(db_url)
    yield eng
    eng.dispose()


@pytest.fixture
def small(engine, tmp_path: Path):
    """The small campaign, created at 2023-02-01 09:00."""
    from campaign_model.specfile import load_spec_text
    from campaign_model.store.audit import Act
    from campaign_model.store.campaigns import create_campaign

    loaded = load_spec_text(SMALL_SPEC, "small.yaml")
    with engine.begin() as conn:
        create_campaign(conn, loaded, Act(local("2023-02-01T09:00"), "admin", local("2023-02-01T09:00")))
    return "small-2023"
