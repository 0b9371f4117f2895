"""The `report` and `ledger-import` commands: reports to files, and a ledger workbook into a campaign.

Kept apart from cli.py and registered there; cli.py's own helpers are imported inside the commands
because cli.py imports this module. Arguments are checked before any database work, so a typo costs
nothing and changes nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from .cli_common import AtOpt, ByOpt, JsonOpt
from .usecases.reports import FORMATS, KIND_ZH, KINDS

report_app = typer.Typer(add_completion=False, help="报表 (reports)")

def _check(kind: str, fmt: str | None, out: Path, phase: str | None, unit: str | None) -> str:
    from campaign_model.errors import InvalidInput

    if kind not in KINDS:
        raise InvalidInput(f"--kind: 不支持的报表 '{kind}'，可选 {', '.join(KINDS)} (unknown report kind)")
    fmt = (fmt or out.suffix.lstrip(".")).lower()
    if fmt not in FORMATS[kind]:
        raise InvalidInput(f"--format: 报表 {kind} 不支持格式 '{fmt}'，可选 {', '.join(FORMATS[kind])} "
                           f"(unsupported format for this report; svg and png are for --kind closure)")
    if phase is not None and kind != "phase-audit":
        raise InvalidInput("--phase 仅用于 --kind phase-audit (--phase is for the phase audit only)")
    if unit is not None and kind != "ledger":
        raise InvalidInput("--unit 仅用于 --kind ledger (--unit is for the ledger only)")
    if not out.parent.is_dir():
        raise InvalidInput(f"--out: 目录 '{out.parent}' 不存在 (the output directory does not exist)")
    return fmt


@report_app.command("report")
def report(
    campaign: str,
    kind: Annotated[str, typer.Option("--kind", help="phase-audit 阶段审计 | ledger 整改台账 | notice 通报 | "
                                                     "closure 销号进度 | grades 考核排名 | summary 汇总数据 (the report)")],
    out: Annotated[Path, typer.Option("--out", help="输出文件 (output file)")],
    fmt: Annotated[str | None, typer.Option("--format", help="xlsx | csv | json | html | pdf；closure 另有 svg | png；"
                                                             "默认按 --out 的扩展名 (default: from --out)")] = None,
    phase: Annotated[str | None, typer.Option("--phase", help="只审计此阶段 (phase-audit: one phase only)")] = None,
    unit: Annotated[str | None, typer.Option("--unit", help="只列此单位的台账 (ledger: one unit only)")] = None,
    at: Annotated[str | None, typer.Option("--at", help="截至时刻 ISO-8601 (as of this instant; default: now)")] = None,
) -> None:
    """生成报表：阶段审计、整改台账、通报、销号进度、考核排名、汇总数据 (write a report: phase audit, ledger, notice, closure,
    grades, summary)."""
    from campaign_app.cli_common import campaign_tz, parse_instant, services
    from campaign_app.usecases.reports import write_report

    chosen = _check(kind, fmt, out, phase, unit)
    instant = parse_instant(at, campaign_tz(campaign)) if at else None  # without --at: now, and the closure to its end
    write_report(services(), campaign, kind, chosen, out, at=instant, phase=phase, unit=unit)
    typer.echo(f"已生成{KIND_ZH[kind]} (report written): {out}")


@report_app.command("grades")
def grades(
    campaign: str,
    parent: Annotated[str | None, typer.Option("--parent", help="只排此上级单位的下属单位 (units under this parent only)")] = None,
    at: Annotated[str | None, typer.Option("--at", help="截至时刻 ISO-8601 (as of this instant; default: now)")] = None,
    as_json: JsonOpt = False,
) -> None:
    """考核排名：每个单位的三项得分、总分、档次和排名 (the assessment: each unit's measures, score, grade and rank)."""
    from campaign_app.cli_common import campaign_tz, emit, parse_instant, services
    from campaign_app.usecases.grades import ranking

    instant = parse_instant(at, campaign_tz(campaign)) if at else None
    emit(ranking(services(), campaign, at=instant, parent=parent), as_json, _ranking_text)


def _ranking_text(view: dict[str, Any]) -> str:
    def pct(v: float | None) -> str:
        return "—" if v is None else f"{v * 100:.1f}%"

    head = (f"{view['title']} 考核排名 (ranking), 截至 (as of) {view['at'][:16].replace('T', ' ')}: "
            + "，".join(f"{g['name']} {g['units']}" for g in view["grades"])
            + (f"，未评 (not graded) {view['ungraded']}" if view["ungraded"] else ""))
    lines = [head, "排名  得分    档次  按时报送  未退回  销号    单位"]
    for u in view["units"]:
        score = "—" if u["score"] is None else f"{u['score']:.1f}"
        lines.append(f"{u['rank'] or '—':>4}  {score:>5}   {u['grade']:<4}  {pct(u['on_time']):>7}  {pct(u['rejections']):>6}  "
                     f"{pct(u['closure']):>6}  {u['unit_name']} ({u['unit']})")
    return "\n".join(lines)


@report_app.command("ledger-import")
def ledger_import(
    campaign: str,
    file: Annotated[Path, typer.Argument(help="台账 XLSX/CSV（序号、问题、类别、整改措施、责任领导、牵头股室、整改时限、"
                                              "进展、状态）(the ledger workbook)")],
    unit: Annotated[str | None, typer.Option("--unit", help="全部导入到此单位；不给则按“单位”列 "
                                                            "(the unit of every item; default: the 单位 column)")] = None,
    at: AtOpt = None, by: ByOpt = None, as_json: JsonOpt = False,
) -> None:
    """从 Excel 台账导入整改问题 (import ledger items from a bureau's Excel ledger)."""
    from campaign_app.cli_common import act, campaign_tz, emit, services
    from campaign_app.usecases import ledger as uc

    summary = uc.import_workbook(services(), act(at, by, campaign_tz(campaign)), campaign, file, unit=unit)
    emit(summary, as_json, lambda s: f"已导入 {s['items']} 项整改问题 (items imported) — {', '.join(s['units'])}")
