"""'Remind now' over HTTP: the organizer picks overdue obligations, a `manual` reminder is planned for each
(once a day), and the tick that the service runs at once sends it to the real SMTP server on loopback.

The campaign is test_delivery's (s1 and s2 owe a plan and a checklist due 2023-04-20); 04-25 is a
Tuesday on which no policy reminder falls (overdue slots 04-24 and 04-26), so any mail is the manual one.
"""

from __future__ import annotations

import datetime as dt

import pytest
from starlette.testclient import TestClient

from campaign_app.settings import Settings
from campaign_app.usecases.services import Services
from campaign_app.web.app import create_app
from campaign_model.store.accounts import add_user, create_token
from campaign_model.store.audit import Act
from flows.tick import tick_direct

from .conftest import local
from .loopback import smtp_server  # noqa: F401 (fixture)
from .test_delivery import KEY, Run, channels, email_channel, run, settings_env  # noqa: F401 (fixtures)


@pytest.fixture
def service(run, tmp_path):
    """The API over the delivery test's campaign; `on_remind` runs the campaign's tick at the service's clock."""
    clock = {"now": local("2023-04-25T10:00")}
    created = local("2023-04-01T09:00")
    tokens = {}
    with run.engine.begin() as conn:
        for name, role, unit in (("office", "admin", None), ("duchazu", "supervisor", None), ("head-s1", "unit", "s1"),
                                 ("viewer", "viewer", None)):
            add_user(conn, name, role, unit, None, Act(created, "setup", created))
            tokens[name] = create_token(conn, name, Act(created, "setup", created))[0]
    ticks: list[dt.datetime] = []

    def on_remind(key: str) -> None:
        ticks.append(clock["now"])
        tick_direct(run.url, key, Act(clock["now"], "tick", clock["now"]), str(run.outbox_file))

    svc = Services(Settings(tmp_path / "home", run.url), run.engine, clock=lambda: clock["now"], on_remind=on_remind)
    client = TestClient(create_app(svc))
    return client, tokens, ticks


def obligation_ids(client, token: str, unit: str) -> list[dict]:
    rows = client.get(f"/api/v1/campaigns/{KEY}/obligations?unit={unit}", headers={"Authorization": f"Bearer {token}"})
    assert rows.status_code == 200
    return rows.json()


def ids_of(run: Run, unit: str) -> list[int]:
    from sqlalchemy import select

    from campaign_model.store.tables import obligations, units

    with run.engine.connect() as conn:
        return list(conn.execute(select(obligations.c.id).join(units, units.c.id == obligations.c.unit_id)
                                 .where(units.c.key == unit).order_by(obligations.c.id)).scalars())


def test_remind_now_mails_the_unit_at_once_and_only_once_a_day(run, channels, smtp_server, service):
    client, tokens, ticks = service
    channels("channels:\n" + email_channel(smtp_server))
    run.tick("2023-04-24T10:00")  # Monday's overdue reminders and the escalation to d1 go out
    before = len(smtp_server.messages)
    run.tick("2023-04-25T08:00")  # Tuesday: no reminder falls due
    assert len(smtp_server.messages) == before
    assert {o["state"] for o in obligation_ids(client, tokens["office"], "s1")} == {"overdue"}

    wanted = ids_of(run, "s1")
    answer = client.post(f"/api/v1/campaigns/{KEY}/reminders", json={"obligations": wanted},
                         headers={"Authorization": f"Bearer {tokens['duchazu']}"})
    assert answer.status_code == 202, answer.text
    assert answer.json() == {"planned": 2, "obligations": wanted, "not_open": [], "not_started": [], "unknown": []}
    assert ticks == [local("2023-04-25T10:00")]  # the service ran the campaign's tick at once

    [mail] = smtp_server.messages[before:]
    assert [a.addr_spec for a in mail["To"].addresses] == ["s1@example.cn"]
    plain = mail.get_body(("plain",)).get_content()
    assert plain.count("[催报]") == 2 and "实施方案" in plain and "自查表" in plain
    sent = [r for r in run.rows() if r["kind"] == "manual"]
    assert {(r["unit"], r["state"], r["planned_for"]) for r in sent} == {("s1", "sent", "2023-04-25T10:00:00+08:00")}

    again = client.post(f"/api/v1/campaigns/{KEY}/reminders", json={"obligations": wanted},
                        headers={"Authorization": f"Bearer {tokens['office']}"})
    assert again.status_code == 202 and again.json()["planned"] == 0
    assert len(smtp_server.messages) == before + 1 and len(ticks) == 1  # nothing new planned: no tick, no mail

    audit = run.audit_text()
    assert '"reminders.manual"' in audit and '"duchazu"' in audit


def test_remind_now_is_for_the_office_and_the_supervisors_only(run, service):
    client, tokens, ticks = service
    wanted = ids_of(run, "s1")
    for name in ("head-s1", "viewer"):
        answer = client.post(f"/api/v1/campaigns/{KEY}/reminders", json={"obligations": wanted},
                             headers={"Authorization": f"Bearer {tokens[name]}"})
        assert answer.status_code == 403, name
    assert client.post(f"/api/v1/campaigns/{KEY}/reminders", json={"obligations": wanted}).status_code == 401
    assert ticks == [] and [r for r in run.rows() if r["kind"] == "manual"] == []


def test_a_filed_obligation_is_reported_not_reminded(run, service):
    client, tokens, ticks = service
    run.tick("2023-04-24T10:00")  # the phase starts: nothing is reminded before its phase opens
    run.file("s1", "plan", "2023-04-24T11:00")
    wanted = ids_of(run, "s1")
    answer = client.post(f"/api/v1/campaigns/{KEY}/reminders", json={"obligations": wanted + [999999]},
                         headers={"Authorization": f"Bearer {tokens['office']}"})
    assert answer.status_code == 202
    doc = answer.json()
    assert doc["planned"] == 1 and len(doc["not_open"]) == 1 and doc["unknown"] == [999999]
