"""Units and artifact kinds given by name as well as by key, wherever a person types one; an ambiguous
name lists what it could mean, an unknown one the closest matches. The spec's units and an uploaded list
are merged by the same rule over HTTP as on the command line.

The small campaign (conftest.SMALL_SPEC): bureau 教育局 > d1 城关学区 > s1 第一小学, s2 第二小学; kinds
plan 实施方案, issue_list 问题清单, summary 总结报告.
"""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from campaign_model import names
from campaign_model.errors import InvalidInput, NotFound
from campaign_model.spec import UnitSpec
from campaign_model.store.audit import Act
from campaign_model.store.blobs import BlobStore
from campaign_model.store.campaigns import import_units, resolve_unit
from campaign_model.store.filings import file_artifact, review, waive
from campaign_model.store.ledger import record_finding
from campaign_model.store.queries import ledger
from campaign_model.store.tables import audit_events, filings, units

from .conftest import local
from .test_units_import import spec_units
from .web_support import HTTPX_WARNING, PDF, account, bearer, issue_rows, new_campaign, serve

CAMPAIGN = "small-2023"


def act(when: str, actor: str = "局办公室") -> Act:
    return Act(local(when), actor, local(when))


def test_names_lookup_prefers_a_key_then_a_unique_name_then_suggests() -> None:
    listed = [("s1", "第一小学"), ("s2", "第二小学"), ("chengdong-xiaoxue", "城东小学"), ("x", "s1")]
    assert names.lookup("s1", listed).key == "s1"  # a key wins over a unit whose name is "s1"
    assert names.lookup(" 第一 小学 ", listed).key == "s1"
    assert names.lookup("城东小", listed).suggestions[0] == ("chengdong-xiaoxue", "城东小学")
    assert names.lookup("nothing like it at all", listed).suggestions == ()
    assert names.lookup("同名", [("a", "同名"), ("b", "同名")]).ambiguous == (("a", "同名"), ("b", "同名"))


def test_unit_name_is_accepted_wherever_a_unit_key_is_expected(engine, small, tmp_path) -> None:
    blobs = BlobStore(tmp_path / "files")
    scan = tmp_path / "plan.pdf"
    scan.write_bytes(PDF)
    rows = tmp_path / "issues.csv"
    rows.write_bytes(issue_rows("作风不实,松,加强学习,王副校长,办公室,2023-04-30"))
    with engine.begin() as conn:
        filed = file_artifact(conn, blobs, CAMPAIGN, "第一小学", "实施方案", act("2023-02-20T10:00"),
                              files=[scan], signed_by="张校长")
        assert (filed["unit"], filed["artifact"]) == ("s1", "plan")
        waived = waive(conn, CAMPAIGN, "第二小学", "plan", "并入第一小学", act("2023-02-21T10:00"))
        assert waived["unit"] == "s2"
        file_artifact(conn, blobs, CAMPAIGN, "第一小学", "问题清单", act("2023-03-20T10:00"), rows_file=rows)
        reviewed = review(conn, CAMPAIGN, "第一小学", "问题清单", True, None, act("2023-03-21T10:00"))
        assert (reviewed["unit"], reviewed["artifact"]) == ("s1", "issue_list")
        finding = record_finding(conn, CAMPAIGN, "第二小学", "值班脱岗", dt.date(2023, 4, 30), act("2023-03-22T10:00"))
        assert finding["unit"] == "s2"
        assert [i["unit"] for i in ledger(conn, CAMPAIGN, "第二小学")] == ["s2"]
        subjects = conn.execute(select(audit_events.c.subject).order_by(audit_events.c.seq)).scalars().all()
    # the audit log names units by key, however they were typed
    assert "obligation:s1/plan/plan" in subjects and "obligation:s2/plan/plan" in subjects
    assert not any("第一小学" in s or "第二小学" in s for s in subjects)


def test_ambiguous_unit_name_lists_the_matching_units_with_their_keys(engine, small, tmp_path) -> None:
    listed = [*spec_units(), UnitSpec(key="s3", name="第一小学", parent="d1", tags=["学校"])]
    with engine.begin() as conn:
        import_units(conn, CAMPAIGN, listed, act("2023-02-10T09:00"), None, "units.csv")
    scan = tmp_path / "plan.pdf"
    scan.write_bytes(PDF)
    with pytest.raises(InvalidInput) as exc, engine.begin() as conn:
        file_artifact(conn, BlobStore(tmp_path / "files"), CAMPAIGN, "第一小学", "plan", act("2023-02-20T10:00"),
                      files=[scan], signed_by="张校长")
    assert "s1 第一小学" in str(exc.value) and "s3 第一小学" in str(exc.value) and "several units" in str(exc.value)
    with engine.connect() as conn:
        assert conn.execute(select(filings)).all() == []
        assert resolve_unit(conn, _ctx(conn), "s3") == "s3"  # the key still reaches either one


def test_unknown_unit_and_artifact_suggest_the_closest_matches(engine, small, tmp_path) -> None:
    with pytest.raises(NotFound) as unit, engine.begin() as conn:
        file_artifact(conn, BlobStore(tmp_path / "files"), CAMPAIGN, "第一小", "plan", act("2023-02-20T10:00"))
    assert "没有单位 '第一小'" in str(unit.value) and "是否指 (did you mean): s1 第一小学" in str(unit.value)
    with pytest.raises(NotFound) as kind, engine.begin() as conn:
        file_artifact(conn, BlobStore(tmp_path / "files"), CAMPAIGN, "s1", "问题清", act("2023-02-20T10:00"))
    message = str(kind.value)
    assert "没有材料类型 '问题清'" in message and "did you mean): issue_list 问题清单?" in message
    assert "可选 (known): plan 实施方案, issue_list 问题清单, summary 总结报告" in message


def _ctx(conn):
    from campaign_model.store.campaigns import load_ctx

    return load_ctx(conn, CAMPAIGN)


@pytest.mark.filterwarnings(HTTPX_WARNING)
def test_filing_over_http_accepts_the_unit_name_within_the_callers_scope(engine, tmp_path) -> None:
    new_campaign(engine, CAMPAIGN)
    client = serve(engine, tmp_path / "home")
    clerk = bearer(account(engine, "s1.clerk", "unit", "s1"))
    form = {"unit": "第一小学", "artifact": "实施方案", "signed_by": "张校长"}
    sent = client.post(f"/api/v1/campaigns/{CAMPAIGN}/filings", headers=clerk, data=form,
                       files=[("files", ("plan.pdf", PDF, "application/pdf"))])
    assert sent.status_code == 201, sent.text
    assert (sent.json()["unit"], sent.json()["artifact"]) == ("s1", "plan")
    other = client.post(f"/api/v1/campaigns/{CAMPAIGN}/filings", headers=clerk, data={**form, "unit": "第二小学"},
                        files=[("files", ("plan.pdf", PDF, "application/pdf"))])
    assert other.status_code == 403 and "s2" in other.json()["error"]["message"]
    # a unit's clerk who mistypes learns nothing of other units' names
    typo = client.post(f"/api/v1/campaigns/{CAMPAIGN}/filings", headers=clerk, data={**form, "unit": "第二小"},
                       files=[("files", ("plan.pdf", PDF, "application/pdf"))])
    assert typo.status_code == 403 and "第二小学" not in typo.text
    # the listings' unit filter takes the name too
    for path in ("obligations", "filings", "ledger"):
        listed = client.get(f"/api/v1/campaigns/{CAMPAIGN}/{path}", headers=clerk, params={"unit": "第一小学"})
        assert listed.status_code == 200, (path, listed.text)
        assert {d["unit"] for d in listed.json()} <= {"s1"}
    owed = client.get(f"/api/v1/campaigns/{CAMPAIGN}/obligations", headers=clerk, params={"unit": "第一小学"}).json()
    assert {d["artifact"] for d in owed} == {"plan", "issue_list"}


UNITS_CSV = ("单位代码,单位名称,上级单位,标签\n"
             "d2,城东学区,教育局,学区\n"       # the parent by the name the spec gives it
             "s3,城东小学,城东学区,学校\n"     # the parent by name, listed in the same file
             "s1,第一小学,d1,学校\n")          # also in the spec, but without its contact: listed differently


@pytest.mark.filterwarnings(HTTPX_WARNING)
def test_campaign_created_over_http_merges_the_uploaded_units_as_the_command_does(engine, tmp_path) -> None:
    from .conftest import SMALL_SPEC

    client = serve(engine, tmp_path / "home")
    admin = bearer(account(engine, "admin1", "admin"))

    def create(units_csv: str):
        return client.post("/api/v1/campaigns", headers=admin,
                           files={"spec": ("spec.yaml", SMALL_SPEC.encode(), "application/x-yaml"),
                                  "units": ("units.csv", units_csv.encode(), "text/csv")})

    refused = create(UNITS_CSV)
    assert refused.status_code == 422, refused.text
    error = refused.json()["error"]
    assert "s1" in error["message"] and "contacts" in error["message"] and "edit one of the two" in error["message"]
    assert error["fields"][0]["field"] == "units"
    with engine.connect() as conn:
        assert conn.execute(select(units)).all() == []

    created = create(UNITS_CSV.replace("s1,第一小学,d1,学校\n", ""))
    assert created.status_code == 201, created.text
    assert created.json()["units"] == 6
    assert created.json()["units_from"] == {"spec": 4, "file": 2, "both": 0}
    with engine.connect() as conn:
        parents = dict(conn.execute(select(units.c.key, units.c.parent_key)).tuples().all())
    assert parents == {"bureau": None, "d1": "bureau", "s1": "d1", "s2": "d1", "d2": "bureau", "s3": "d2"}
