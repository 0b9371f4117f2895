"""Changing a running campaign from the command line: `amend`, `extend` (延期), `versions`.

Registered in cli.py; each parses its options and calls one use case (usecases.changes).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from .cli_common import AtOpt, ByOpt, JsonOpt, act, campaign_tz, emit

changes_app = typer.Typer(add_completion=False, help="修改正在进行的活动 (change a running campaign)")

ReasonOpt = Annotated[str, typer.Option("--reason", help="修改理由，记入操作日志 (why; recorded in the audit log)")]


def _amended(r: dict[str, Any]) -> str:
    head = (f"预览第 {r['version']} 版（未保存）(preview of version {r['version']}, nothing saved)" if "conflicts" in r
            else f"已保存第 {r['version']} 版 (version {r['version']} saved)")
    lines = [head, *(f"  - {c}" for c in r["changes"]),
             f"  重新计算截止时间或提醒的未报事项 (open obligations recomputed): {r['recomputed']}"]
    if r.get("obligations_added"):
        lines.append(f"  新增应报事项 (obligations added): {r['obligations_added']}")
    lines += [f"  ✗ {c}" for c in r.get("conflicts", [])]
    return "\n".join(lines)


@changes_app.command("amend")
def amend(
    campaign: str,
    spec: Annotated[Path, typer.Argument(help="新的活动规格 YAML (the new spec)")],
    reason: ReasonOpt,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="只显示将要修改的内容，不保存 "
                                                          "(show what would change, save nothing)")] = False,
    at: AtOpt = None, by: ByOpt = None, as_json: JsonOpt = False,
) -> None:
    """修改正在进行的活动：保存新版本规格，未报事项随之重算 (amend a running campaign: a new spec version)."""
    from campaign_model.errors import ConflictError, InvalidInput, Problem, SpecInvalid

    from .cli_common import services
    from .usecases import changes

    try:
        text = spec.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecInvalid([Problem(str(spec), None, "", f"无法读取文件 (cannot read the file: {exc})")]) from None
    a = act(at, by, campaign_tz(campaign))
    if dry_run:
        result = changes.preview(services(), campaign, text, a.at, source=str(spec))
        emit(result, as_json, _amended)
        if result["conflicts"]:
            raise ConflictError("以上修改会被拒绝 (the change above would be refused)")
        return
    if not reason.strip():
        raise InvalidInput("修改理由不能为空 (a reason is required)", field="reason")
    emit(changes.amend(services(), a, campaign, text, reason=reason, at=a.at, source=str(spec)), as_json, _amended)


@changes_app.command("extend")
def extend(
    campaign: str,
    step: Annotated[str, typer.Option("--step", help="步骤，如 plan 或 阶段/步骤 (the step, e.g. plan or phase/step)")],
    to: Annotated[str, typer.Option("--to", help="新截止时间 2023-03-10 或 2023-03-10T17:00，按活动时区 "
                                               "(the new due date, campaign-local)")],
    reason: ReasonOpt,
    unit: Annotated[list[str] | None, typer.Option("--unit", help="延期的单位，可重复；不给则全部未报单位 "
                                                               "(a unit, repeatable; default: all with it open)")] = None,
    at: AtOpt = None, by: ByOpt = None, as_json: JsonOpt = False,
) -> None:
    """延期：推迟一个步骤的截止时间，对一个、几个或全部单位 (extend a step's deadline for some or all units)."""
    from campaign_model.errors import CampaignError

    from .cli_common import services
    from .usecases import changes

    tz = campaign_tz(campaign)
    a = act(at, by, tz)
    svc = services()
    try:
        due = changes.due_instant(svc, campaign, to)
        result = changes.extend(svc, a, campaign, step=step, units=list(unit) if unit else None, due=due,
                                reason=reason, at=a.at)
    except CampaignError as exc:  # named as this command's options: --to, --unit
        exc.field = {"due": "to", "units": "unit"}.get(exc.field or "", exc.field)
        raise
    emit(result, as_json, lambda r: "\n".join(
        [f"已延期 (extended) {len(r['obligations'])} 项 — {r['reason']}"]
        + [f"  {o['unit']} {o['name']} {o['title']}: {o['old_due']} → {o['new_due']}，下次提醒 (next reminder) "
           f"{o['next_remind_at'] or '—'}" for o in r["obligations"]]))


@changes_app.command("versions")
def versions(campaign: str, as_json: JsonOpt = False) -> None:
    """活动规格的各个版本：时间、修改人、理由、改动 (the spec versions: when, who, why, what changed)."""
    from .cli_common import services
    from .usecases import changes

    def human(rows: list[dict[str, Any]]) -> str:
        out = []
        for v in rows:
            out.append(f"第 {v['version']} 版 (version {v['version']})  {v['at'][:16]}  {v['author'] or '—'}  "
                       f"{v['reason'] or ('创建活动 (created)' if v['version'] == 1 else '')}")
            out += [f"    - {c}" for c in v["changes"]]
        return "\n".join(out)

    emit(changes.versions(services(), campaign), as_json, human)
