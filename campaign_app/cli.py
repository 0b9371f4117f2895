"""The `campaign` command: thin commands that turn arguments into one service call each.

Exit codes: 0 success, 1 a check failed (audit verify), 2 bad input (with a message; never a traceback).
"""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import typer

from campaign_model.errors import CampaignError, InvalidInput, SpecInvalid
from campaign_model.labels import OBLIGATION_STATE, PHASE_STATE, names

from .cli_common import AtOpt, ByOpt, JsonOpt, act, campaign_tz, emit, parse_instant, reminder_words, settings, transaction

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="campaignflow：多阶段专项活动的流程引擎 (a workflow engine for multi-stage campaigns)")
template_app = typer.Typer(no_args_is_help=True, help="内置模板 (shipped templates)")
units_app = typer.Typer(no_args_is_help=True, help="单位管理 (units)")
audit_app = typer.Typer(no_args_is_help=True, help="操作日志 (audit log)")
db_app = typer.Typer(no_args_is_help=True, help="数据库 (database)")
app.add_typer(template_app, name="template")
app.add_typer(units_app, name="units")
app.add_typer(audit_app, name="audit")
app.add_typer(db_app, name="db")

# --- specs and templates ---

@app.command()
def validate(file: Path) -> None:
    """检查活动规格文件 (check a campaign spec; exit 2 listing every problem)."""
    from .usecases import campaigns as uc

    doc = uc.validate(file)
    for w in doc["warnings"]:
        typer.echo(w, err=True)
    typer.echo(f"{file}: 有效 (valid) — {doc['campaign']}: {doc['phases']} 个阶段 (phases), {doc['units']} 个单位 (units)")


@template_app.command("list")
def template_list(as_json: JsonOpt = False) -> None:
    """列出内置模板 (list the shipped templates)."""
    from campaign_model.catalog import list_templates

    docs = [{"name": t.name, "key": t.key, "title": t.title, "title_en": t.title_en, "year": t.year,
             "phases": t.phases} for t in list_templates()]
    emit(docs, as_json, lambda d: "\n".join(f"{t['name']:<28} {t['year']}  {t['title']}  ({' → '.join(t['phases'])})" for t in d))


@template_app.command("show")
def template_show(name: str) -> None:
    """打印模板 YAML (print a template's YAML)."""
    from campaign_model.catalog import template_text

    typer.echo(template_text(name), nl=False)


@template_app.command("workbook")
def template_workbook(name: str, kind: str,
                      out: Annotated[Path | None, typer.Option("--out", help="写到哪个文件 (where to write it)")] = None) -> None:
    """空白表格：units 为单位名单，或按行报送的材料（如 issue_list）；NAME 为模板名或活动代码
    (a blank workbook to fill in: `units`, or an artifact kind filed as rows; NAME is a template or a campaign)."""
    from campaign_model.catalog import template_names, template_text
    from campaign_model.errors import NotFound
    from campaign_model.spec import ArtifactKind
    from campaign_model.specfile import load_spec_text
    from campaign_model.store.campaigns import load_ctx
    from notifications.reports.workbook import blank_workbook

    if name in template_names():
        kinds = load_spec_text(template_text(name), f"{name}.yaml").spec.artifacts
    else:
        try:
            with transaction() as conn:
                artifacts = load_ctx(conn, name).artifacts
        except NotFound:
            raise NotFound(f"没有名为 '{name}' 的模板或活动；模板：{'、'.join(template_names())} "
                           f"(no template or campaign named '{name}'; see `campaign template list` and `campaign list`)") from None
        kinds = {k: ArtifactKind.model_validate(v) for k, v in artifacts.items()}
    filename, data = blank_workbook(kinds, kind)
    path = out or Path(filename)
    try:
        path.write_bytes(data)
    except OSError as exc:
        raise InvalidInput(f"无法写入 {path} (cannot write {path}: {exc.strerror or exc})") from None
    typer.echo(f"已写入空白表格 {path} (blank workbook written)")


@app.command()
def init(name: str, year: Annotated[int | None, typer.Option(help="改到哪一年 (re-date to this year)")] = None) -> None:
    """从模板生成活动规格 (write a spec from a template, re-dated to --year)."""
    from campaign_model.catalog import redate, template_text

    text = template_text(name)
    typer.echo(redate(text, year, name=name) if year else text, nl=False)


# --- campaigns and units ---

@app.command()
def create(file: Path, units: Annotated[Path | None, typer.Option("--units", help="单位名单 CSV/XLSX (unit list)")] = None,
           at: AtOpt = None, by: ByOpt = None, as_json: JsonOpt = False) -> None:
    """创建活动：保存规格并生成每个单位的应报材料 (create a campaign and materialize its obligations)."""
    from campaign_model.specfile import load_spec_file

    from .cli_common import services
    from .usecases import campaigns as uc

    # the list's units join the spec's own (a unit in both must be listed the same): specfile.merge_units
    loaded = load_spec_file(file, unit_list=units)
    for w in loaded.warnings:
        typer.echo(str(w), err=True)
    emit(uc.create(services(), act(at, by, loaded.spec.tz), loaded), as_json, _created_text)


def _created_text(s: dict[str, Any]) -> str:
    src = s["units_from"]
    where = f"规格中 {src['spec']} 个 (from the spec)"
    if src["file"] or src["both"]:
        where += f"，名单中另有 {src['file']} 个 (from the list)"
        where += f"，{src['both']} 个两处都有 (in both)" if src["both"] else ""
    return (f"已创建活动 {s['campaign']} (created): {s['units']} 个单位 (units: {where}), "
            f"{s['obligations']} 项应报材料 (obligations)")


@units_app.command("import")
def units_import(campaign: str, file: Path,
                 reason: Annotated[str | None, typer.Option(help="撤销单位的理由 (why removed units are excused)")] = None,
                 at: AtOpt = None, by: ByOpt = None, as_json: JsonOpt = False) -> None:
    """按名单更新运行中活动的单位 (bring a running campaign's units in line with a CSV/XLSX list)."""
    from campaign_model.unitfile import read_units

    from .cli_common import services
    from .usecases import units as uc

    new_units = read_units(file)
    summary = uc.import_units(services(), act(at, by, campaign_tz(campaign)), campaign, new_units, reason=reason,
                              source=str(file))
    emit(summary, as_json, lambda s: (f"新增 (added) {len(s['added'])}, 更新 (updated) {len(s['updated'])}, "
                                      f"撤销 (removed) {len(s['removed'])}; 新增应报 (new obligations) "
                                      f"{s['obligations_added']}, 免报 (waived) {s['obligations_waived']}"))


@units_app.command("list")
def units_list(campaign: str, as_json: JsonOpt = False) -> None:
    """列出活动的单位，按层级排列 (a campaign's units in hierarchy order; contacts are counted, not shown)."""
    from .cli_common import services
    from .usecases import units as uc

    emit(uc.unit_tree(services(), campaign), as_json, lambda d: _units_text(campaign, d))


def _units_text(campaign: str, docs: list[dict[str, Any]]) -> str:
    removed = sum(not u["active"] for u in docs)
    lines = [f"{campaign}: {len(docs) - removed} 个单位 (units)" + (f"，{removed} 个已撤销 (removed)" if removed else "")]
    for u in docs:
        parts = ["  " * (u["depth"] + 1) + f"{u['key']}  {u['name']}"]
        if u["parent"]:
            parts.append(f"上级 (parent): {u['parent']} {u['parent_name'] or ''}".rstrip())
        if u["tags"]:
            parts.append(f"标签 (tags): {', '.join(u['tags'])}")
        parts.append(f"联系人 (contacts): {u['contacts']}")
        if not u["active"]:
            parts.append("已撤销 (removed)")
        lines.append("  ".join(parts))
    return "\n".join(lines)


@app.command("list")
def list_campaigns(as_json: JsonOpt = False) -> None:
    """列出活动 (list campaigns)."""
    from .cli_common import services
    from .usecases import campaigns as uc

    emit(uc.list_campaigns(services()), as_json, lambda d: "\n".join(f"{c['key']}  {c['title']}" for c in d) or "尚无活动 (no campaigns)")


# --- filings, reviews, waivers, advance ---

@app.command("file")
def file_cmd(campaign: str, unit: Annotated[str, typer.Option("--unit", help="单位代码或名称 (unit key or name)")],
             artifact: Annotated[str, typer.Option("--artifact", help="材料类型代码或名称 (artifact kind, key or title)")],
             files: Annotated[list[Path] | None, typer.Option("--file", help="附件，可多次 (a file; repeatable)")] = None,
             rows: Annotated[Path | None, typer.Option("--rows", help="逐行材料 CSV/XLSX/JSON (rows file)")] = None,
             signed_by: Annotated[str | None, typer.Option("--signed-by", help="签字负责人 (who signed)")] = None,
             step: Annotated[str | None, typer.Option("--step", help="步骤代码 (step key, when the artifact is owed twice)")] = None,
             at: AtOpt = None, by: ByOpt = None, as_json: JsonOpt = False) -> None:
    """报送材料 (file an artifact for a unit)."""
    from .cli_common import services
    from .usecases import filings

    result = filings.file_artifact(services(), act(at, by, campaign_tz(campaign)), campaign, unit, artifact,
                                   files=files or [], rows=rows, signed_by=signed_by, step=step)
    emit(result, as_json, lambda r: (f"已报送 (filed) {r['unit']}/{r['artifact']} 第 {r['version']} 版 (version)"
                                     + ("，逾期 (late)" if r["late"] else "")
                                     + (f"，{r['ledger_items']} 条整改台账 (ledger items)" if r["ledger_items"] else "")))


@app.command()
def review(campaign: str, unit: Annotated[str, typer.Option("--unit")], artifact: Annotated[str, typer.Option("--artifact")],
           accept: Annotated[bool, typer.Option("--accept", help="通过 (accept)")] = False,
           reject: Annotated[bool, typer.Option("--reject", help="退回 (reject; reopens the obligation)")] = False,
           comment: Annotated[str | None, typer.Option("--comment")] = None,
           step: Annotated[str | None, typer.Option("--step")] = None,
           at: AtOpt = None, by: ByOpt = None, as_json: JsonOpt = False) -> None:
    """审核已报材料 (accept or reject a filing)."""
    from .cli_common import services
    from .usecases import filings

    if accept == reject:
        raise InvalidInput("请指定 --accept 或 --reject 之一 (give exactly one of --accept or --reject)")
    result = filings.review(services(), act(at, by, campaign_tz(campaign)), campaign, unit, artifact, accept=accept,
                            comment=comment, step=step)
    emit(result, as_json, lambda r: f"{r['unit']}/{r['artifact']}: {'通过 (accepted)' if accept else '退回 (rejected)'}")


@app.command()
def waive(campaign: str, unit: Annotated[str, typer.Option("--unit")], artifact: Annotated[str, typer.Option("--artifact")],
          reason: Annotated[str, typer.Option("--reason", help="免报理由 (why)")],
          step: Annotated[str | None, typer.Option("--step")] = None,
          at: AtOpt = None, by: ByOpt = None, as_json: JsonOpt = False) -> None:
    """免报（特批，须写理由）(waive an obligation, with a reason)."""
    from .cli_common import services
    from .usecases import filings

    result = filings.waive(services(), act(at, by, campaign_tz(campaign)), campaign, unit, artifact, reason=reason,
                           step=step)
    emit(result, as_json, lambda r: f"{r['unit']}/{r['artifact']}: 已免报 (waived) — {r['reason']}")


@app.command()
def advance(campaign: str, force: Annotated[bool, typer.Option("--force", help="不满足转段条件也转段 (override the gate)")] = False,
            reason: Annotated[str | None, typer.Option("--reason")] = None,
            at: AtOpt = None, by: ByOpt = None, as_json: JsonOpt = False) -> None:
    """转段：完成当前阶段 (complete the current phase; --force --reason overrides the gate)."""
    from .cli_common import services
    from .usecases import campaigns as uc

    result = uc.advance(services(), act(at, by, campaign_tz(campaign)), campaign, force=force, reason=reason)
    emit(result, as_json, lambda r: f"阶段 {r['completed']} 已完成 (completed)" + ("（特批 forced）" if r["forced"] else ""))


# --- ticks and status ---

def _parse_every(text: str) -> dt.timedelta:
    import re

    m = re.fullmatch(r"\s*(\d+)\s*(m|min|h|hour|hours|d|day|days)\s*", text)
    if not m or int(m.group(1)) == 0:
        raise InvalidInput(f"--every: 无法识别的间隔 '{text}'，应写作 1h、30m、1d (cannot read interval; use e.g. 1h, 30m, 1d)")
    n, unit = int(m.group(1)), m.group(2)[0]
    return {"m": dt.timedelta(minutes=n), "h": dt.timedelta(hours=n), "d": dt.timedelta(days=n)}[unit]


PrefectOpt = Annotated[bool | None, typer.Option(
    "--prefect/--in-process",
    help="作为 Prefect 流程运行记入 PREFECT_API_URL 所指的服务器，或在本进程内运行；默认：该服务器可达时用它，否则在本进程内 "
         "(run as a Prefect flow run on the server PREFECT_API_URL names, or in this process; default: that server when "
         "it answers, else in process)")]


@app.command()
def tick(campaign: str, at: AtOpt = None,
         until: Annotated[str | None, typer.Option("--until", help="连续检查直到此时刻 (run successive ticks up to this instant)")] = None,
         every: Annotated[str, typer.Option("--every", help="与 --until 一起：间隔 (interval with --until, e.g. 1h)")] = "1h",
         prefect: PrefectOpt = None, by: ByOpt = None, as_json: JsonOpt = False) -> None:
    """检查期限、催办、转段 (run a tick: deadlines, reminders, gates, phase changes)."""
    from flows import SCHEDULER_ACTOR

    from .cli_common import services
    from .usecases import campaigns as uc

    tz = campaign_tz(campaign)
    first = act(at, by, tz, system=SCHEDULER_ACTOR)  # a tick only applies the rules: the scheduler's name will do
    as_flow_run = _tick_on_prefect(prefect)
    # with --until and no --at, the ticks go on from the last one
    if until:
        results = uc.tick(services(), first, campaign, until=parse_instant(until, tz), every=_parse_every(every),
                          after_last=not at, prefect=as_flow_run)
    else:
        results = uc.tick(services(), first, campaign, prefect=as_flow_run)
    doc: Any = results[0] if len(results) == 1 and not until else results
    emit(doc, as_json, lambda d: "\n".join(_tick_line(r, tz) for r in (d if isinstance(d, list) else [d])))


def _tick_on_prefect(wanted: bool | None) -> bool:
    """Whether `campaign tick` runs as a Prefect flow run: on the server PREFECT_API_URL names, when asked to
    (--prefect) or by default when it answers. Never a temporary server: a command would pay its start (tens of
    seconds) for milliseconds of work, which runs the same in this process (--in-process, the default without one)."""
    import os

    if wanted is False:
        return False
    api = (os.environ.get("PREFECT_API_URL") or "").strip()
    if not api:
        if wanted:
            raise InvalidInput("未设置 PREFECT_API_URL：--prefect 需要一个运行中的 Prefect 服务器，如 "
                               "PREFECT_API_URL=http://127.0.0.1:4200/api (PREFECT_API_URL is not set: --prefect runs the "
                               "tick on a running Prefect server; without one the tick runs in this process)", field="prefect")
        return False
    from flows.tick import api_answers

    if not api_answers(api):
        if wanted:
            raise InvalidInput(f"无法连接 Prefect 服务器 {api} (cannot reach the Prefect server at {api})", field="prefect")
        typer.echo(f"注意 (note): Prefect 服务器 {api} 无应答，本次检查在本进程内运行 "
                   f"(the Prefect server at {api} does not answer: the tick runs in this process)", err=True)
        return False
    settings().prepare_prefect()  # before Prefect is first imported
    return True


def _tick_line(r: dict[str, Any], tz: ZoneInfo) -> str:
    at = dt.datetime.fromisoformat(r["at"]).astimezone(tz)
    parts = [f"{at:%Y-%m-%d %H:%M}"]
    if r["advanced"]:
        parts.append(f"转段 (advanced): {', '.join(r['advanced'])}")
    parts.append(f"逾期 (overdue) +{r['overdue_marked']}, 催办计划 (planned) {r['reminders_planned']}, "
                 + reminder_words(r))
    parts.append(" ".join(f"{k}={v}" for k, v in r["phases"].items()))
    return "  ".join(parts)


STATE_ZH = names(PHASE_STATE, "zh")


@app.command()
def status(campaign: str, at: AtOpt = None, as_json: JsonOpt = False) -> None:
    """活动进展 (where a campaign stands at an instant)."""
    from .cli_common import services
    from .usecases import campaigns as uc

    emit(uc.status(services(), campaign, parse_instant(at, campaign_tz(campaign))), as_json, _status_text)


def _status_text(d: dict[str, Any]) -> str:
    running = "、".join(d.get("running_phases") or []) or "—"
    lines = [f"{d['campaign']} @ {d['at']}  当前阶段 (running phases): {running}"]
    for p in d["phases"]:
        gate = "转段条件已满足 (gate met)" if p["gate"]["met"] else f"缺 {len(p['gate']['missing'])} 项 (missing)"
        lines.append(f"  {p['key']:<16} {STATE_ZH[p['state']]} ({p['state']})  {p['start'][:10]} → {p['end'][:10]}  {gate}"
                     + ("  [特批 forced]" if p["forced"] else ""))
    o = d["obligations"]
    # the states partition the total; overdue and not yet open are subsets of the open ones (pending + rejected)
    states = " + ".join(f"{OBLIGATION_ZH[k]} ({k}) {o[k]}" for k in d["obligations_legend"]["partition"])
    lines.append(f"  应报材料 (obligations): 合计 (total) {o['total']} = {states}")
    lines.append(f"    待报与退回中 (of the open ones): 逾期 (overdue) {o['overdue']}，"
                 f"阶段未开始 (not yet open) {o['not_open']}")
    phases = d["phases"]
    lines.extend(_held_warning(d["campaign"], p, phases[i + 1] if i + 1 < len(phases) else None)
                 for i, p in enumerate(phases) if p["state"] == "overdue" and not p["gate"]["met"])
    return "\n".join(lines)


def _held_warning(campaign: str, p: dict[str, Any], after: dict[str, Any] | None) -> str:
    """A phase past its window with its gate unmet waits, and the next phase with it unless that one opens on its
    date (spec `opens: on_date`): say so, and the ways on."""
    waits = ("下一阶段等待中 (the phase is past its window and its gate is not met; the next phase waits)"
             if after is None or after.get("opens") != "on_date" else
             f"下一阶段 {after['title']} 按期开始，本阶段继续催报 (the phase is past its window and its gate is not "
             f"met; the next phase opens on its date meanwhile)")
    return (f"注意 (note): 阶段 {p['title']} 已过计划结束日期 {p['end'][:10]}，转段条件未满足（缺 {len(p['gate']['missing'])} 项），"
            f"{waits}。"
            f"催报或免报 (remind or waive): campaign waive {campaign} --unit U --artifact A --reason …；"
            f"特批转段 (override): campaign advance {campaign} --force --reason …")


OBLIGATION_ZH = names(OBLIGATION_STATE, "zh")


@app.command()
def obligations(campaign: str, at: AtOpt = None, as_json: JsonOpt = False) -> None:
    """应报材料清单 (every obligation with its state)."""
    from .cli_common import services
    from .usecases import filings

    docs = filings.obligations(services(), campaign, at=parse_instant(at, campaign_tz(campaign)))
    emit(docs, as_json, lambda d: "\n".join(f"{o['due'][:16]}  {o['unit']:<14} {o['artifact']:<24} {o['state']}" for o in d))


@app.command()
def recheck(item: int, passed: Annotated[bool, typer.Option("--pass", help="复查通过 (the fix held)")] = False,
            failed: Annotated[bool, typer.Option("--fail", help="复查未通过：事项重新打开 (反弹: reopens the item)")] = False,
            comment: Annotated[str | None, typer.Option("--comment")] = None,
            step: Annotated[str | None, typer.Option("--step", help="回头看步骤 (look-back step key)")] = None,
            deadline: Annotated[str | None, typer.Option("--deadline", help="重新整改时限 (new deadline when failed)")] = None,
            at: AtOpt = None, by: ByOpt = None, as_json: JsonOpt = False) -> None:
    """回头看复查：通过，或未通过并重新打开事项 (decide a look-back re-check; a failed one reopens the item)."""
    from .cli_common import services
    from .usecases import ledger as uc

    if passed == failed:
        raise InvalidInput("请指定 --pass 或 --fail 之一 (give exactly one of --pass or --fail)")
    try:
        new_deadline = dt.date.fromisoformat(deadline) if deadline else None
    except ValueError:
        raise InvalidInput(f"--deadline: 不是有效日期 '{deadline}' (not a date; use YYYY-MM-DD)") from None
    tz = campaign_tz(uc.item(services(), item)["campaign"])
    result = uc.recheck(services(), act(at, by, tz), item, passed=passed, comment=comment, step=step, deadline=new_deadline)
    emit(result, as_json, lambda r: f"事项 #{r['item']} 复查"
                                    f"{'通过 (passed)' if passed else '未通过，已重新打开 (failed: reopened)'}")


@app.command()
def reminders(campaign: str, state: Annotated[str | None, typer.Option("--state", help="planned|sent|failed|dead|cancelled")] = None,
              unit: Annotated[str | None, typer.Option("--unit")] = None, as_json: JsonOpt = False) -> None:
    """催办发件箱 (the reminder outbox)."""
    from .cli_common import services
    from .usecases import reminders as uc

    docs = uc.outbox(services(), campaign, state=state, unit=unit)
    emit(docs, as_json, lambda d: "\n".join(
        f"{r['planned_for'][:16]} {r['unit']:<14} {r['artifact']:<24} {r['kind']:<8} {r['state']}" for r in d))


# --- audit and database ---

@audit_app.command("verify")
def audit_verify(by: ByOpt = None, anchor: Annotated[str | None, typer.Option(
        "--anchor", help="再核对一个锚点 SEQ:HASH（报表、通报上印的审计链序号与哈希）"
                         "(also check this anchor, SEQ:HASH as printed on a report or notice)")] = None) -> None:
    """校验审计链并记录结果 (verify the whole audit chain and keep the result; exit 1 naming the first bad event).

    也核对数据目录中 audit-anchors.jsonl 的最新锚点；校验通过时记下新的锚点
    (also checked against the latest anchor in the data directory's audit-anchors.jsonl; a pass is anchored there)."""
    from .cli_common import actor, services
    from .usecases import audit as uc

    # kept as checked by --by or $CAMPAIGN_ACTOR; a check changes nothing, so it is not refused without either
    verdict = uc.verify(services(), actor(by, system=VERIFY_ACTOR), anchor=anchor)
    if verdict["ok"]:
        typer.echo(f"审计链完整 (audit chain intact): {verdict['events']} 个事件 (events)")
        for a in verdict["anchors"]:
            typer.echo(f"  与锚点 #{a['seq']} 相符 (matches anchor #{a['seq']}"
                       + (f", {a['source']} at {a['at']})" if a["at"] else f", {a['source']})"))
        return
    where = f" at event #{verdict['first_bad']}" if verdict["first_bad"] is not None else ""
    typer.echo(f"审计链被破坏 (audit chain broken){where}: {verdict['reason'] or ''}", err=True)
    raise typer.Exit(1)


VERIFY_ACTOR = "cli"


@audit_app.command("log")
def audit_log(campaign: Annotated[str | None, typer.Argument()] = None, as_json: JsonOpt = False) -> None:
    """操作日志 (the audit log, oldest first)."""
    from .cli_common import services
    from .usecases import audit as uc

    docs = uc.events(services(), campaign)
    emit(docs, as_json, lambda d: "\n".join(f"#{e['seq']:<5} {e['at'][:19]} {e['actor']:<10} {e['action']:<20} {e['subject']}" for e in d))


@app.command()
def channels(as_json: JsonOpt = False) -> None:
    """已配置的发送渠道（不显示密钥）(the configured delivery channels, secrets masked)."""
    from .cli_common import services
    from .usecases import configuration

    emit(configuration.channels(services()), as_json,
         lambda d: (f"配置文件 (settings file): {d['file'] or '—'}\n" + "\n".join(
             f"  {c['name']:<16} {c['type']:<9} {c.get('url') or c.get('host', '')}" for c in d["channels"])
                    if d["channels"] else "未配置渠道：催办写入 JSON 行文件 (no channels: reminders go to the JSON-lines file)"))


@db_app.command("upgrade")
def db_upgrade() -> None:
    """升级数据库结构 (bring the database schema up to date)."""
    from campaign_model.store.db import make_engine, upgrade

    revision = upgrade(make_engine(settings().db_url))
    typer.echo(f"数据库已是最新 (database at revision {revision})")


@app.command()
def demo(db: Annotated[Path | None, typer.Option("--db", help="演示数据库文件 (demo database file)")] = None,
         units: Annotated[int, typer.Option("--units", help="学校数量 (number of schools)")] = 48) -> None:
    """演示：用 2023 作风整顿模板和约 50 个单位模拟一整年 (simulate the seed-002 campaign over a year)."""
    from .demo import run_demo

    s = settings()
    s.prepare_prefect()
    run_demo(s, db, units)


def _debug() -> bool:
    try:
        return settings().debug
    except CampaignError:  # unreadable settings were reported as such; this error is another
        return False


def main() -> None:
    try:
        # without standalone mode, click returns (not raises) the code of a typer.Exit inside a command
        code = app(standalone_mode=False)
        sys.exit(code if isinstance(code, int) else 0)
    except SpecInvalid as exc:
        for p in exc.problems + exc.warnings:
            typer.echo(str(p), err=True)
        sys.exit(2)
    except CampaignError as exc:
        from .cli_errors import error_line  # the option at fault first (--signed-by: ...)

        typer.echo(error_line(exc, typer.main.get_command(app), sys.argv[1:]), err=True)
        sys.exit(2)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except (typer.Abort, KeyboardInterrupt):
        typer.echo("已中止 (aborted)", err=True)
        sys.exit(130)
    except Exception as exc:  # click usage errors and anything unforeseen: a message, not a traceback
        # typer may ship its own copy of click, so recognise a usage error by what it can do
        if hasattr(exc, "show") and hasattr(exc, "exit_code"):
            exc.show()
            sys.exit(exc.exit_code)
        if _debug():
            raise
        typer.echo(f"内部错误 (internal error): {type(exc).__name__}: {exc}\n"
                   f"设置 CAMPAIGN_DEBUG=1 可查看详情 (set CAMPAIGN_DEBUG=1 for details)", err=True)
        sys.exit(3)


# commands kept in their own modules, registered at the top level
from .cli_notice import notice_app  # noqa: E402

app.registered_commands += notice_app.registered_commands
from .cli_schedule import schedule_app  # noqa: E402

app.registered_commands += schedule_app.registered_commands
from .cli_ledger import register as register_ledger  # noqa: E402

register_ledger(app)
from .cli_units import register as register_units  # noqa: E402

register_units(units_app)
from .cli_report import report_app  # noqa: E402

app.registered_commands += report_app.registered_commands
from .cli_changes import changes_app  # noqa: E402

app.registered_commands += changes_app.registered_commands
from .cli_backup import backup_app  # noqa: E402
from .cli_users import token_app, user_app  # noqa: E402

app.registered_commands += backup_app.registered_commands

app.add_typer(user_app, name="user")
app.add_typer(token_app, name="token")
