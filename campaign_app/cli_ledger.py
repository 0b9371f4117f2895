"""The ledger commands: `campaign ledger CAMPAIGN` (the list), `campaign ledger update|verify ITEM`,
`campaign finding CAMPAIGN` and `campaign gate CAMPAIGN`.

`ledger` is a command group whose first argument is either a subcommand (update, verify, list) or a
campaign key: anything that is not a subcommand name lists that campaign's ledger, so the contract's
`campaign ledger CAMPAIGN --json` and `campaign ledger update ITEM ...` both hold. `register(app)`
wires it all into the top-level app (replacing a plain `ledger` command there). What every command
shares comes from cli_common.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from campaign_model.errors import InvalidInput
from campaign_model.labels import LEDGER_STATE, names
from campaign_model.store.audit import Act

from .cli_common import AtOpt, ByOpt, JsonOpt


class _LedgerGroup(TyperGroup):
    """Routes `ledger CAMPAIGN ...` (no subcommand name first) to `ledger list CAMPAIGN ...`."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h"):
            args = ["list", *args]
        return super().parse_args(ctx, args)


ledger_app = typer.Typer(
    cls=_LedgerGroup, no_args_is_help=True,
    help="整改台账 (the rectification ledger): `ledger CAMPAIGN [--unit U] [--state S] [--json]` 列出台账 (lists it); "
         "`ledger update ITEM` 报进展/整改完成 (report progress or the fix); "
         "`ledger verify ITEM` 销号或退回 (close or send back).")
top_app = typer.Typer(add_completion=False)

STATE_ZH = names(LEDGER_STATE, "zh")


def _item_id(text: str) -> int:
    try:
        return int(text.strip().lstrip("#"))
    except ValueError:
        raise InvalidInput(f"条目编号应为数字，如 12 或 #12 (an item is its number, e.g. 12), got '{text}'") from None


def _date(text: str | None, option: str) -> dt.date | None:
    if text is None:
        return None
    try:
        return dt.date.fromisoformat(text.strip().replace("/", "-"))
    except ValueError:
        raise InvalidInput(f"{option}: 不是有效日期 '{text}'，应写作 2023-06-30 (not a date; use 2023-06-30)") from None


def _item_act(item_id: int, at: str | None, by: str | None) -> Act:
    """The actor and instant of a change to an item: --at is read in the item's campaign time zone."""
    from campaign_app.cli_common import act, campaign_tz, services
    from campaign_app.usecases import ledger as uc

    return act(at, by, campaign_tz(uc.item(services(), item_id)["campaign"]))


def _changed(result: dict[str, Any], as_json: bool) -> None:
    from campaign_app.cli_common import emit

    emit(result, as_json, lambda r: f"#{r['id']} {r['unit']}: {STATE_ZH.get(r['state_before'], r['state_before'])} → "
                                    f"{STATE_ZH.get(r['state'], r['state'])} ({r['state']})"
                                    + (f"，佐证 {len(r['evidence'])} 份 (evidence files)" if r["evidence"] else ""))


@ledger_app.command("list")
def ledger_list(campaign: str, unit: Annotated[str | None, typer.Option("--unit", help="单位代码 (unit key)")] = None,
                state: Annotated[str | None, typer.Option("--state", help="open|in_progress|rectified|closed|returned|reopened")] = None,
                at: AtOpt = None, as_json: JsonOpt = False) -> None:
    """列出整改台账，含进展和佐证 (the ledger items, with history and evidence; `overdue` at --at)."""
    from campaign_app.cli_common import campaign_tz, emit, parse_instant, services
    from campaign_app.usecases import ledger as uc
    from campaign_model.ledger import STATES

    if state is not None and state not in STATES:
        raise InvalidInput(f"--state 应为 {'|'.join(STATES)} (unknown state '{state}')")
    docs = uc.ledger(services(), campaign, unit=unit, state=state, at=parse_instant(at, campaign_tz(campaign)))
    emit(docs, as_json, lambda d: "\n".join(
        f"#{i['id']} {i['unit']} [{STATE_ZH[i['state']]}{'，逾期' if i['overdue'] else ''}] {i['problem']} — "
        f"{i['leader'] or '—'}，{'长期坚持' if i['long_term'] else i['deadline']}" for i in d) or "台账为空 (no ledger items)")


@ledger_app.command("update")
def ledger_update(item: Annotated[str, typer.Argument(help="条目编号 (item number)")],
                  state: Annotated[str, typer.Option("--state", help="in_progress（整改中）或 rectified（已整改）")],
                  note: Annotated[str | None, typer.Option("--note", help="进展说明 (progress note)")] = None,
                  evidence: Annotated[list[Path] | None, typer.Option(
                      "--evidence", help="佐证材料，可多次 (evidence file; repeatable)")] = None,
                  at: AtOpt = None, by: ByOpt = None, as_json: JsonOpt = False) -> None:
    """报告整改进展或整改完成 (report progress, or the fix with evidence files)."""
    from campaign_app.cli_common import services
    from campaign_app.usecases import ledger as uc

    item_id = _item_id(item)
    _changed(uc.report_progress(services(), _item_act(item_id, at, by), item_id, state=state, note=note,
                                evidence=evidence or []), as_json)


@ledger_app.command("verify")
def ledger_verify(item: Annotated[str, typer.Argument(help="条目编号 (item number)")],
                  close: Annotated[bool, typer.Option("--close", help="核验销号 (verify and close)")] = False,
                  reopen: Annotated[bool, typer.Option(
                      "--reopen", help="退回重新整改 (send back: rectification did not hold)")] = False,
                  comment: Annotated[str | None, typer.Option("--comment", help="核验意见 (the supervisor's comment)")] = None,
                  deadline: Annotated[str | None, typer.Option(
                      "--deadline", help="退回时的新整改时限 (a new deadline, with --reopen)")] = None,
                  at: AtOpt = None, by: ByOpt = None, as_json: JsonOpt = False) -> None:
    """核验：销号或退回 (a supervisor closes the item — 销号, evidence required — or sends it back)."""
    from campaign_app.cli_common import services
    from campaign_app.usecases import ledger as uc

    if close == reopen:
        raise InvalidInput("请指定 --close 或 --reopen 之一 (give exactly one of --close or --reopen)")
    if deadline and close:
        raise InvalidInput("--deadline 只用于 --reopen (a new deadline goes with --reopen)")
    new_deadline = _date(deadline, "--deadline")
    item_id = _item_id(item)
    _changed(uc.verify(services(), _item_act(item_id, at, by), item_id, close=close, comment=comment,
                       deadline=new_deadline), as_json)


@top_app.command("finding")
def finding(campaign: str, unit: Annotated[str, typer.Option("--unit", help="被督查单位 (the unit)")],
            problem: Annotated[str, typer.Option("--problem", help="发现的问题 (the problem found)")],
            deadline: Annotated[str | None, typer.Option("--deadline", help="整改时限 YYYY-MM-DD (deadline)")] = None,
            category: Annotated[str | None, typer.Option("--category", help="类别 (category)")] = None,
            measure: Annotated[str | None, typer.Option("--measure", help="整改措施 (measures)")] = None,
            leader: Annotated[str | None, typer.Option("--leader", help="责任领导 (responsible leader)")] = None,
            office: Annotated[str | None, typer.Option("--office", help="牵头股室 (lead office)")] = None,
            long_term: Annotated[bool, typer.Option("--long-term", help="长期坚持 (a long-term item)")] = False,
            mechanism: Annotated[str | None, typer.Option("--mechanism", help="长效机制 (long-term mechanism)")] = None,
            at: AtOpt = None, by: ByOpt = None, as_json: JsonOpt = False) -> None:
    """记录督查发现的问题，列入该单位整改台账 (record a supervision finding as a ledger item of the unit)."""
    from campaign_app.cli_common import act, campaign_tz, emit, services
    from campaign_app.usecases import ledger as uc

    due = _date(deadline, "--deadline")
    doc = uc.record_finding(services(), act(at, by, campaign_tz(campaign)), campaign, unit, problem, deadline=due,
                            category=category, measure=measure, leader=leader, office=office, long_term=long_term,
                            mechanism=mechanism)
    emit(doc, as_json, lambda d: f"已列入台账 (recorded) #{d['id']} {d['unit']}: {d['problem']}，"
                                 f"整改时限 (deadline) {d['deadline'] or '长期坚持 (long-term)'}")


@top_app.command("gate")
def gate(campaign: str, at: AtOpt = None, as_json: JsonOpt = False) -> None:
    """转段条件中的台账与测评条件：销号率、满意率与参评率，及回头看复查 (each phase's gate beyond its filings:
    the ledger and evaluation conditions and pending look-back re-checks; `met` is the whole gate, as the tick sees it)."""
    from campaign_app.cli_common import campaign_tz, emit, parse_instant, services
    from campaign_app.usecases import campaigns as uc

    emit(uc.gate(services(), campaign, parse_instant(at, campaign_tz(campaign))), as_json, _gate_text)


def _gate_text(docs: list[dict[str, Any]]) -> str:
    lines = []
    for d in docs:
        running = "（进行中 running）" if d.get("running") else ""
        lines.append(f"{d['phase']}{running}: {'已满足 (met)' if d['met'] else '未满足 (not met)'}")
        if not d["artifacts_met"]:
            lines.append("  应报材料未齐 (filings missing: see `campaign status`)")
        if d["rechecks_pending"]:
            lines.append(f"  回头看复查待定 {d['rechecks_pending']} 项 (look-back re-checks pending)")
        if "ledger" in d:
            c = d["ledger"]["counts"]
            lines.append(f"  台账 (ledger): 销号 {c.get('closed', 0)}/{c['total']}（{d['ledger']['closed_share']}），"
                         f"逾期 {c['overdue']} (closed, overdue)")
        if "evaluation" in d:
            lines.append(f"  测评 (evaluation) {d['evaluation']['artifact']}: {d['evaluation'].get('text', '')}")
        lines += [f"  - {w}" for part in ("ledger", "evaluation") for w in d.get(part, {}).get("why", [])]
    return "\n".join(lines) or "没有台账或测评转段条件 (no ledger or evaluation gate conditions)"


def register(app: typer.Typer) -> None:
    """Wire the ledger group, `finding` and `gate` into the top-level app; calling it twice is harmless.

    A plain `ledger` command already on the app is dropped: the group's default subcommand lists the
    ledger with the same arguments and output (plus `--at` for the overdue flag).
    """
    app.registered_commands[:] = [c for c in app.registered_commands
                                  if (c.name or getattr(c.callback, "__name__", "")) != "ledger"]
    if not any(g.name == "ledger" for g in app.registered_groups):
        app.add_typer(ledger_app, name="ledger")
    for command in top_app.registered_commands:
        if command not in app.registered_commands:
            app.registered_commands.append(command)
