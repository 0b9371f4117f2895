"""The HTTP API under /api/v1: thin routes, each a right, a scope check and one service call.

The instant of every action is the server's clock (`Services.now`); a client never sets it. The actor
is the caller's account name.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from functools import partial
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, BackgroundTasks, File, Form, Query, Request, UploadFile
from fastapi import Path as PathParam
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from campaign_model.errors import CampaignError, SpecInvalid

from ..usecases import audit as audit_uc
from ..usecases import campaigns as campaigns_uc
from ..usecases import filings as filing_cases
from ..usecases import ledger as ledger_uc
from ..usecases import reminders as reminders_uc
from ..usecases import tasks as tasks_uc
from ..usecases import units as units_uc
from .deps import MAX_INT, Caller, IdField, IdPath, IndexPath, Svc, reach, require
from .errors import ApiError, from_domain
from .uploads import attachment, evidence_uploads, filing_uploads, spooled

router = APIRouter(prefix="/api/v1")

Key = Annotated[str, Field(min_length=1, max_length=64)]
BINARY = {"type": "string", "format": "binary"}  # a downloaded file, in the OpenAPI document


# --- who am I, and the campaigns ---

@router.get("/health", tags=["service"], summary="服务状态 (service health; no credentials needed)")
def health(svc: Svc) -> dict[str, Any]:
    with svc.read() as conn:
        conn.exec_driver_sql("SELECT 1")
    return {"ok": True, "at": svc.now().isoformat()}


@router.get("/me", tags=["accounts"], summary="当前用户 (the caller's account)")
def me(caller: Caller = require("campaign.read")) -> dict[str, Any]:
    p = caller.principal
    return {"name": p.name, "role": p.role, "unit": p.unit, "display_name": p.display_name, "via": caller.via}


@router.get("/me/tasks", tags=["accounts"], summary="我的待办：本单位及下级单位的应报材料与整改台账，按紧急程度排序 "
                                                   "(the caller's unit's tasks across its campaigns, most urgent first)")
def my_tasks(svc: Svc, caller: Caller = require("campaign.read")) -> dict[str, Any]:
    # only a unit user has tasks of its own; for the other roles the lists are empty
    return tasks_uc.my_tasks(svc, svc.now(), unit=caller.principal.unit if caller.role == "unit" else None)


@router.get("/campaigns", tags=["campaigns"], summary="活动列表 (campaigns the caller may see)")
def campaigns(svc: Svc, caller: Caller = require("campaign.read")) -> list[dict[str, Any]]:
    return campaigns_uc.list_campaigns(svc, role=caller.role, unit=caller.principal.unit)


@router.post("/campaigns", status_code=201, tags=["campaigns"],
             summary="创建活动：上传规格 YAML，可附单位名单 (create a campaign from a spec upload, optional unit list)")
def create_campaign(svc: Svc, spec: Annotated[UploadFile, File(description="活动规格 YAML (the spec)")],
                    units: Annotated[UploadFile | None, File(description="单位名单 CSV/XLSX (unit list)")] = None,
                    caller: Caller = require("campaign.create")) -> dict[str, Any]:
    from campaign_model.specfile import load_spec_text

    text = _spec_text(spec)
    with spooled([("units", units)] if units else [], svc.limits, frozenset({"units"})) as files:
        f = files["units"][0] if files.get("units") else None
        try:
            # the same merge as `campaign create --units`: the list's units join the spec's own
            loaded = load_spec_text(text, spec.filename or "spec.yaml", unit_loader=_no_units_file,
                                    unit_list=f.path if f else None, unit_list_name=f.name if f else None)
        except SpecInvalid as exc:
            raise from_domain(exc, "units" if f and exc.problems and exc.problems[0].file == f.name else "spec") from None
        except CampaignError as exc:
            raise from_domain(exc, "spec") from None
        summary = campaigns_uc.create(svc, svc.act(caller.name), loaded)
    return {**summary, "warnings": [str(w) for w in loaded.warnings]}


def _spec_text(spec: UploadFile) -> str:
    data = spec.file.read(1024 * 1024 + 1)
    if len(data) > 1024 * 1024:
        raise ApiError(413, "too_large", "规格文件超过 1 MB (the spec is larger than 1 MB)", "spec")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ApiError(422, "invalid", "规格文件须为 UTF-8 编码 (the spec must be UTF-8 text)", "spec") from None


def _no_units_file(path: Path) -> Any:
    from campaign_model.errors import Problem

    raise SpecInvalid([Problem("spec", None, "units_file", "通过接口创建时请随规格上传单位名单 units，而不是 units_file "
                                                         "(over HTTP, upload the unit list as `units` instead of units_file)")])


@router.get("/campaigns/{key}", tags=["campaigns"], summary="活动概况：阶段时间线 (a campaign's phases and timeline)")
def campaign(key: str, svc: Svc, caller: Caller = require("campaign.read")) -> dict[str, Any]:
    return campaigns_uc.timeline(svc, key, svc.now(), scope=reach(caller))


@router.get("/campaigns/{key}/status", tags=["campaigns"],
            summary="活动进展，与 `campaign status --json` 相同 (status: the same document as `campaign status --json`)")
def status(key: str, svc: Svc, caller: Caller = require("campaign.status")) -> dict[str, Any]:
    return campaigns_uc.status(svc, key, svc.now())


# --- units ---

@router.get("/campaigns/{key}/units", tags=["units"], summary="单位 (units; a unit user sees its own and those below)")
def units(key: str, svc: Svc, caller: Caller = require("units.read")) -> list[dict[str, Any]]:
    return units_uc.list_units(svc, key, scope=reach(caller))


@router.post("/campaigns/{key}/units", tags=["units"],
             summary="导入单位名单：新增单位生成应报材料，撤销单位免报 (import a unit list into a running campaign)")
def import_units(key: str, svc: Svc, file: Annotated[UploadFile, File(description="CSV/XLSX")],
                 reason: Annotated[str | None, Form(description="撤销单位的理由 (why removed units are excused)")] = None,
                 caller: Caller = require("units.import")) -> dict[str, Any]:
    from campaign_model.unitfile import read_units

    with spooled([("file", file)], svc.limits, frozenset({"file"})) as files:
        f = files["file"][0]
        assert f.path is not None  # a rows field (frozenset({"file"}) above) is spooled to a file
        try:
            new_units = read_units(f.path, f.name)
        except CampaignError as exc:
            raise from_domain(exc, "file") from None
        return units_uc.import_units(svc, svc.act(caller.name), key, new_units, reason=reason, source=f.name)


@router.post("/campaigns/{key}/units/preview", tags=["units"],
             summary="预览单位名单：将新增、改名、调整上级、撤销哪些单位；不导入 (what importing a unit list would change; "
                     "nothing is imported)")
def preview_units(key: str, svc: Svc, file: Annotated[UploadFile, File(description="CSV/XLSX")],
                  caller: Caller = require("units.import")) -> dict[str, Any]:
    from campaign_model.unitfile import read_units

    with spooled([("file", file)], svc.limits, frozenset({"file"})) as files:
        f = files["file"][0]
        assert f.path is not None  # a rows field is spooled to a file
        try:
            listed = read_units(f.path, f.name)
        except CampaignError as exc:
            raise from_domain(exc, "file") from None
        return units_uc.preview_import(svc, key, listed)


class ContactIn(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    role: str | None = Field(None, max_length=200)
    email: str | None = Field(None, max_length=200)
    phone: str | None = Field(None, max_length=200)


class UnitIn(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    parent: str | None = Field(None, max_length=200, description="上级单位代码或名称 (the parent's key or name)")
    tags: list[Annotated[str, Field(min_length=1, max_length=64)]] = Field(default_factory=list, max_length=20)
    contacts: list[ContactIn] = Field(default_factory=list, max_length=10)


class UnitPatch(BaseModel):
    name: str | None = Field(None, min_length=1, max_length=200)
    parent: str | None = Field(None, max_length=200, description="新的上级单位；null 为最上级 (the new parent; null: the top)")
    contacts: list[ContactIn] | None = Field(None, max_length=10)
    reason: str | None = Field(None, max_length=2000)


class MergeIn(BaseModel):
    into: str = Field(min_length=1, max_length=200)
    reason: str = Field(min_length=1, max_length=2000)


class CloseIn(BaseModel):
    reason: str = Field(min_length=1, max_length=2000)


def _contacts(given: list[ContactIn]) -> list[Any]:
    from pydantic import ValidationError

    from campaign_model.spec import Contact

    try:
        return [Contact.model_validate(c.model_dump()) for c in given]
    except ValidationError as exc:
        first = exc.errors()[0]
        raise ApiError(422, "invalid", str(first["ctx"]["error"]) if "ctx" in first else str(first["msg"]),
                       "contacts") from None


@router.get("/campaigns/{key}/units/{unit}", tags=["units"],
            summary="一个单位：上级、下级、状态、应报材料 (one unit: parent, children, state, obligations)")
def unit(key: str, unit: str, svc: Svc, caller: Caller = require("units.read")) -> dict[str, Any]:
    return units_uc.unit_page(svc, key, unit, scope=reach(caller),
                              own=caller.principal.unit if caller.role == "unit" else None)["unit"]


@router.put("/campaigns/{key}/units/{unit}", status_code=201, tags=["units"],
            summary="新增单位：按报送对象规则生成应报材料 (add a unit: it owes what its audience rules give it)")
def add_unit(key: str, unit: Annotated[str, PathParam(min_length=1, max_length=64)], body: UnitIn, svc: Svc,
             caller: Caller = require("units.manage")) -> dict[str, Any]:
    from pydantic import ValidationError

    from campaign_model.spec import UnitSpec

    try:
        spec = UnitSpec(key=unit, name=body.name, parent=body.parent, tags=body.tags, contacts=_contacts(body.contacts))
    except ValidationError as exc:
        raise ApiError(422, "invalid", str(exc.errors()[0]["msg"]), "unit") from None
    return units_uc.add_unit(svc, svc.act(caller.name), key, spec)


@router.patch("/campaigns/{key}/units/{unit}", tags=["units"],
              summary="改名、调整上级、编辑联系人（一次完成或都不做）(rename, move, contacts: all or nothing)")
def update_unit(key: str, unit: str, body: UnitPatch, svc: Svc, caller: Caller = require("units.manage")) -> dict[str, Any]:
    contacts = _contacts(body.contacts) if body.contacts is not None else None
    return units_uc.update_unit(svc, svc.act(caller.name), key, unit, name=body.name, parent=body.parent,
                                move="parent" in body.model_fields_set, contacts=contacts, reason=body.reason)


@router.post("/campaigns/{key}/units/{unit}/merge", tags=["units"],
             summary="并入另一单位：撤销、未报免报，下级单位与未销号台账转入 (merge into another unit)")
def merge_unit(key: str, unit: str, body: MergeIn, svc: Svc, caller: Caller = require("units.manage")) -> dict[str, Any]:
    return units_uc.merge_unit(svc, svc.act(caller.name), key, unit, body.into, body.reason)


@router.post("/campaigns/{key}/units/{unit}/close", tags=["units"],
             summary="撤销单位（撤并、停办）：未报材料免报并记录理由 (close a unit; open obligations waived with the reason)")
def close_unit(key: str, unit: str, body: CloseIn, svc: Svc, caller: Caller = require("units.manage")) -> dict[str, Any]:
    return units_uc.close_unit(svc, svc.act(caller.name), key, unit, body.reason)


# --- obligations and filings ---

@router.get("/campaigns/{key}/obligations", tags=["obligations"], summary="应报材料 (obligations, scoped to the caller's units)")
def obligations(key: str, svc: Svc, unit: str | None = None, state: str | None = None,
                caller: Caller = require("obligations.read")) -> list[dict[str, Any]]:
    return filing_cases.obligations(svc, key, unit=unit, state=state, scope=reach(caller))


FILING_FORM = {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
    "type": "object", "required": ["unit", "artifact"],
    "properties": {
        "unit": {"type": "string", "description": "单位代码 (unit key)"},
        "artifact": {"type": "string", "description": "材料类型 (artifact kind)"},
        "files": {"type": "array", "items": {"type": "string", "format": "binary"}, "description": "附件 (files)"},
        "rows": {"type": "string", "format": "binary", "description": "逐行材料 CSV/XLSX/JSON (rows file)"},
        "signed_by": {"type": "string", "description": "签字负责人 (who signed)"},
        "step": {"type": "string", "description": "步骤代码 (step key)"}}}}}}}


@router.post("/campaigns/{key}/filings", status_code=201, tags=["filings"], response_model=None, openapi_extra=FILING_FORM,
             summary="报送材料：附件、签字人、逐行材料 (file an artifact: files, signer, rows file)",
             responses={201: {"description": "报送结果 (the filing)"}, 422: {"description": "出错的字段 (the fields at fault)"}})
async def create_filing(key: str, request: Request, svc: Svc, caller: Caller = require("filing.create")) -> Response:
    # the form is read here rather than by FastAPI's parameter machinery: the busiest write of the service,
    # about a millisecond less per request
    async with request.form(max_files=svc.limits.files + 1, max_fields=64) as form:
        text = {name: (v.strip() if isinstance(v := form.get(name), str) else None)
                for name in ("unit", "artifact", "signed_by", "step")}
        missing = [name for name in ("unit", "artifact") if not text[name]]
        if missing:
            names = ", ".join(missing)
            raise ApiError(422, "invalid", f"请求有误：{names} (invalid request: {names})",
                           fields=[{"field": name, "message": "必填 (required)"} for name in missing])
        files = [f for f in form.getlist("files") if not isinstance(f, str)]
        rows = form.get("rows")
        uploads = partial(filing_uploads, files, rows if not isinstance(rows, str) else None, svc.limits)
        doc = await run_in_threadpool(filing_cases.file_uploads, svc, svc.act(caller.name), key, text["unit"] or "",
                                      text["artifact"] or "", uploads, signed_by=text["signed_by"], step=text["step"],
                                      scope=reach(caller))
    return JSONResponse(doc, status_code=201)


@router.get("/campaigns/{key}/filings", tags=["filings"], summary="已报材料的各个版本 (filed versions, newest first)")
def filings(key: str, svc: Svc, unit: str | None = None, artifact: str | None = None,
            caller: Caller = require("filing.read")) -> list[dict[str, Any]]:
    return filing_cases.filings(svc, key, unit=unit, artifact=artifact, scope=reach(caller))


@router.get("/campaigns/{key}/filings/{filing_id}", tags=["filings"], summary="一次报送及其逐行内容 (one filing, with its rows)")
def filing(key: str, filing_id: IdPath, svc: Svc, caller: Caller = require("filing.read")) -> dict[str, Any]:
    return filing_cases.filing(svc, key, filing_id, scope=reach(caller))


@router.get("/campaigns/{key}/filings/{filing_id}/files/{n}", tags=["filings"], summary="下载附件 (download a filed file)",
            response_class=Response, responses={200: {"description": "附件原样，作为下载 (the file as filed, as a download)",
                                                      "content": {"application/octet-stream": {"schema": BINARY}}}})
def download(key: str, filing_id: IdPath, n: IndexPath, svc: Svc, caller: Caller = require("filing.read")) -> Response:
    f = filing_cases.filed_file(svc, key, filing_id, n, scope=reach(caller))
    return attachment(svc.blobs, f["sha256"], f["name"])


class ReviewIn(BaseModel):
    unit: Key
    artifact: Key
    decision: Literal["accept", "reject"]
    comment: str | None = Field(None, max_length=2000)
    step: str | None = None


@router.post("/campaigns/{key}/reviews", tags=["filings"], summary="审核：通过或退回 (accept or reject the latest filing)")
def review(key: str, body: ReviewIn, svc: Svc, caller: Caller = require("filing.review")) -> dict[str, Any]:
    return filing_cases.review(svc, svc.act(caller.name), key, body.unit, body.artifact, accept=body.decision == "accept",
                               comment=body.comment, step=body.step)


@router.get("/campaigns/{key}/reviews", tags=["filings"],
            summary="待审核的报送，最早的在前 (filings waiting for review, the oldest first)")
def review_queue(key: str, svc: Svc, phase: Annotated[str, Query(max_length=64)] = "",
                 artifact: Annotated[str, Query(max_length=64)] = "", parent: Annotated[str, Query(max_length=64)] = "",
                 caller: Caller = require("filing.review")) -> dict[str, Any]:
    return filing_cases.review_queue(svc, key, phase=phase or None, artifact=artifact or None, parent=parent or None,
                                     scope=reach(caller))


class WaiverIn(BaseModel):
    unit: Key
    artifact: Key
    reason: str = Field(min_length=1, max_length=2000)
    step: str | None = None


@router.post("/campaigns/{key}/waivers", tags=["obligations"], summary="免报（须写理由）(waive an obligation, with a reason)")
def waive(key: str, body: WaiverIn, svc: Svc, caller: Caller = require("obligation.waive")) -> dict[str, Any]:
    return filing_cases.waive(svc, svc.act(caller.name), key, body.unit, body.artifact, reason=body.reason, step=body.step)


# --- changing a running campaign: a new spec version, 延期, the versions ---

class ExtensionIn(BaseModel):
    step: str = Field(min_length=1, max_length=130, description="步骤，如 plan 或 阶段/步骤 (step, or phase/step)")
    units: list[Key] | None = Field(None, max_length=10000, description="单位；不给则全部未报单位 (units; none: all)")
    due: str = Field(min_length=10, max_length=25, description="新截止时间 2023-03-10 或 2023-03-10T17:00 (campaign-local)")
    reason: str = Field(min_length=1, max_length=2000)


@router.post("/campaigns/{key}/extensions", tags=["campaigns"],
             summary="延期：推迟一个步骤对一个、几个或全部单位的截止时间 (extend a step's deadline for some or all units)")
def extend(key: str, body: ExtensionIn, svc: Svc, caller: Caller = require("campaign.amend")) -> dict[str, Any]:
    from ..usecases import changes as changes_uc

    due = changes_uc.due_instant(svc, key, body.due)
    return changes_uc.extend(svc, svc.act(caller.name), key, step=body.step, units=body.units, due=due,
                             reason=body.reason, at=svc.now())


class SpecIn(BaseModel):
    text: str = Field(min_length=1, max_length=1024 * 1024)
    reason: str | None = Field(None, max_length=2000)


_SPEC_BODY = {"requestBody": {"required": True, "content": {
    "application/json": {"schema": SpecIn.model_json_schema()},
    "application/yaml": {"schema": {"type": "string"}}, "text/plain": {"schema": {"type": "string"}}}}}


@router.put("/campaigns/{key}/spec", tags=["campaigns"], openapi_extra=_SPEC_BODY,
            summary="修改正在进行的活动：新版本规格（YAML 正文，或 JSON {text, reason}）；dry_run 只预览 "
                    "(amend a running campaign with a new spec version; dry_run previews)")
async def amend_spec(key: str, request: Request, svc: Svc,
                     reason: Annotated[str | None, Query(max_length=2000, description="修改理由 (why)")] = None,
                     dry_run: bool = False, caller: Caller = require("campaign.amend")) -> dict[str, Any]:
    from ..usecases import changes as changes_uc

    data = await request.body()
    if len(data) > 1024 * 1024:
        raise ApiError(413, "too_large", "规格超过 1 MB (the spec is larger than 1 MB)", "text")
    if request.headers.get("content-type", "").split(";")[0].strip() == "application/json":
        try:
            body = SpecIn.model_validate_json(data)
        except ValueError:
            raise ApiError(422, "invalid", "请求体应为 JSON {text, reason} (the body must be JSON {text, reason})",
                           "text") from None
        text, reason = body.text, body.reason or reason
    else:
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise ApiError(422, "invalid", "规格须为 UTF-8 编码 (the spec must be UTF-8 text)", "text") from None
    at = svc.now()
    if dry_run:
        return await run_in_threadpool(changes_uc.preview, svc, key, text, at, source="spec")
    return await run_in_threadpool(partial(changes_uc.amend, svc, svc.act(caller.name), key, text,
                                           reason=reason or "", at=at, source="spec"))


@router.get("/campaigns/{key}/versions", tags=["campaigns"],
            summary="活动规格的版本：时间、修改人、理由、改动 (spec versions: when, who, why, what changed)")
def versions(key: str, svc: Svc, caller: Caller = require("campaign.versions")) -> list[dict[str, Any]]:
    from ..usecases import changes as changes_uc

    return changes_uc.versions(svc, key)


class AdvanceIn(BaseModel):
    force: bool = False
    reason: str | None = Field(None, max_length=2000)


@router.post("/campaigns/{key}/advance", tags=["campaigns"],
             summary="转段；force 须写理由（特批）(complete the current phase; force overrides the gate, with a reason)")
def advance(key: str, body: AdvanceIn, svc: Svc, caller: Caller = require("phase.advance")) -> dict[str, Any]:
    return campaigns_uc.advance(svc, svc.act(caller.name), key, force=body.force, reason=body.reason)


# --- the rectification ledger ---

@router.get("/campaigns/{key}/ledger", tags=["ledger"], summary="整改台账 (the rectification ledger, scoped)")
def ledger(key: str, svc: Svc, unit: str | None = None, state: str | None = None,
           caller: Caller = require("ledger.read")) -> list[dict[str, Any]]:
    return ledger_uc.ledger(svc, key, unit=unit, state=state, scope=reach(caller))


@router.post("/ledger/{item}/progress", tags=["ledger"],
             summary="报告整改进展或整改完成（附佐证）(report progress, or the fix with evidence files)")
def ledger_progress(item: IdPath, svc: Svc, state: Annotated[Literal["in_progress", "rectified"], Form()],
                    note: Annotated[str | None, Form(max_length=4000)] = None,
                    evidence: Annotated[list[UploadFile] | None, File(description="佐证材料 (evidence)")] = None,
                    caller: Caller = require("ledger.update")) -> dict[str, Any]:
    return ledger_uc.report_progress(svc, svc.act(caller.name), item, state=state, note=note,
                                     evidence=partial(evidence_uploads, evidence or [], svc.limits), scope=reach(caller))


class VerifyIn(BaseModel):
    decision: Literal["close", "reopen"]
    comment: str = Field(min_length=1, max_length=4000)
    deadline: dt.date | None = None


@router.post("/ledger/{item}/verify", tags=["ledger"], summary="销号或退回整改 (close a rectified item, or reopen it)")
def ledger_verify(item: IdPath, body: VerifyIn, svc: Svc, caller: Caller = require("ledger.verify")) -> dict[str, Any]:
    return ledger_uc.verify(svc, svc.act(caller.name), item, close=body.decision == "close", comment=body.comment,
                            deadline=body.deadline, scope=reach(caller))


class FindingIn(BaseModel):
    unit: Key
    problem: str = Field(min_length=1, max_length=4000)
    deadline: dt.date | None = None
    long_term: bool = False
    category: str | None = None
    measure: str | None = None
    leader: str | None = Field(default=None, max_length=200)
    office: str | None = Field(default=None, max_length=200)
    mechanism: str | None = Field(default=None, max_length=4000)  # 长效机制


@router.post("/campaigns/{key}/findings", status_code=201, tags=["ledger"],
             summary="督查发现的问题，列入整改台账 (a supervision finding, as a ledger item)")
def finding(key: str, body: FindingIn, svc: Svc, caller: Caller = require("finding.create")) -> dict[str, Any]:
    return ledger_uc.record_finding(svc, svc.act(caller.name), key, body.unit, body.problem, deadline=body.deadline,
                                    category=body.category, measure=body.measure, leader=body.leader, office=body.office,
                                    long_term=body.long_term, mechanism=body.mechanism)


# --- reminders ---

@router.get("/campaigns/{key}/reminders", tags=["reminders"], summary="催办发件箱 (the reminder outbox)")
def reminders(key: str, svc: Svc, state: str | None = None, unit: str | None = None,
              caller: Caller = require("reminders.read")) -> list[dict[str, Any]]:
    return reminders_uc.outbox(svc, key, state=state, unit=unit)


class RemindIn(BaseModel):
    obligations: list[IdField] = Field(min_length=1, max_length=10000)


@router.post("/campaigns/{key}/reminders", status_code=202, tags=["reminders"],
             summary="立即催办所选应报材料（每项每天一次）(remind now: one reminder per obligation per day)")
def remind(key: str, body: RemindIn, svc: Svc, background: BackgroundTasks,
           caller: Caller = require("reminders.send")) -> dict[str, Any]:
    # the tick that sends them runs after the answer, not inside this request
    return reminders_uc.remind_now(svc, svc.act(caller.name), key, body.obligations, defer=background.add_task)


# --- audit and reports ---

@router.get("/audit", tags=["audit"], summary="操作日志，可检索 (the audit log, newest first, searchable)")
def audit_log(svc: Svc, campaign: str | None = None, q: Annotated[str | None, Query(max_length=200)] = None,
              limit: Annotated[int, Query(ge=1, le=1000)] = 100, offset: Annotated[int, Query(ge=0, le=MAX_INT)] = 0,
              caller: Caller = require("audit.read")) -> dict[str, Any]:
    return audit_uc.search(svc, campaign=campaign, text=q, limit=limit, offset=offset)


@router.get("/audit/verify", tags=["audit"], summary="校验整条审计链并记录结果 (verify the audit chain; the result is kept)")
def audit_verify(svc: Svc, caller: Caller = require("audit.read")) -> dict[str, Any]:
    v = audit_uc.verify(svc, caller.name)
    return {"ok": v["ok"], "events": v["events"], "first_bad": v["first_bad"], "reason": v["reason"] or ""}


REPORT_TYPES = {"xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "csv": "text/csv",
                "json": "application/json", "html": "text/html", "pdf": "application/pdf", "svg": "image/svg+xml",
                "png": "image/png"}


@router.get("/campaigns/{key}/reports/{kind}", tags=["reports"], response_class=Response,
            summary="报表：phase-audit | ledger | notice | closure | grades | summary，格式 xlsx csv json html pdf (svg png)",
            responses={200: {"description": "报表文件，作为下载 (the report, as a download)",
                             "content": {media: {"schema": {"type": "object"} if fmt == "json" else BINARY}
                                         for fmt, media in REPORT_TYPES.items()}}})
def report(key: str, kind: str, svc: Svc, format: str = "xlsx", phase: str | None = None, unit: str | None = None,
           caller: Caller = require("reports.read")) -> Response:
    from ..usecases.reports import FORMATS, KINDS, write_report

    if kind not in KINDS:
        raise ApiError(404, "not_found", f"没有报表 '{kind}'，可选 {', '.join(KINDS)} (unknown report)", "kind")
    if format not in FORMATS[kind]:
        raise ApiError(422, "invalid", f"报表 {kind} 不支持格式 '{format}'，可选 {', '.join(FORMATS[kind])} "
                                       f"(unsupported format)", "format")
    with tempfile.TemporaryDirectory(prefix="campaignflow-report-") as tmp:
        out = Path(tmp) / f"{key}-{kind}.{format}"
        write_report(svc, key, kind, format, out, phase=phase if kind == "phase-audit" else None,
                     unit=unit if kind == "ledger" else None)
        content = out.read_bytes()
    return Response(content, media_type=REPORT_TYPES[format],
                    headers={"Content-Disposition": f'attachment; filename="{key}-{kind}.{format}"'})


@router.get("/campaigns/{key}/grades", tags=["reports"],
            summary="考核排名：每个单位的三项得分、总分、档次和排名 (the assessment: each unit's measures, score, grade, rank)")
def grades(key: str, svc: Svc, parent: Annotated[str, Query(max_length=64)] = "",
           caller: Caller = require("grades.read")) -> dict[str, Any]:
    from ..usecases.grades import ranking

    return ranking(svc, key, parent=parent or None)


# --- the public board ---

@router.get("/public/{key}", tags=["public"], summary="公示：汇总进度与整改数字，无需登录 (the public board's figures; no login)")
def public(key: str, svc: Svc) -> dict[str, Any]:
    return audit_uc.public_board(svc, key)

