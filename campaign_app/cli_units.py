"""The unit commands beyond `units import` and `units list` (cli.py): `campaign units add|rename|move|merge|
close|contacts|preview`. Each parses its arguments and calls one use case (usecases.units); `register(units_app)`
adds them to the `units` group. A unit is named by its key or its unique name, as everywhere.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError

from campaign_model.errors import InvalidInput

from .cli_common import AtOpt, ByOpt, JsonOpt, act, campaign_tz, emit

Reason = Annotated[str | None, typer.Option("--reason", help="理由，记入操作日志 (why; audited)")]
ReasonRequired = Annotated[str | None, typer.Option("--reason", help="理由（必填），作为免报理由记入操作日志 "
                                                                     "(required: why; the waivers' reason, audited)")]


def _services() -> Any:
    from .cli_common import services

    return services()


def _contact(text: str) -> Any:
    """'姓名,职务,邮箱,电话' (trailing parts optional) as a Contact."""
    from campaign_model.spec import Contact

    parts = [p.strip() for p in text.replace("，", ",").split(",")]
    if len(parts) > 4 or not parts[0]:
        raise InvalidInput(f"联系人写作 '姓名,职务,邮箱,电话'，后三项可省略 (a contact is 'name,role,email,phone'): '{text}'",
                           field="contact")
    parts += [""] * (4 - len(parts))
    try:
        return Contact(name=parts[0], role=parts[1] or None, email=parts[2] or None, phone=parts[3] or None)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise InvalidInput(str(first["ctx"]["error"]) if "ctx" in first else str(first["msg"]), field="contact") from None


def add(campaign: str, key: str,
        name: Annotated[str, typer.Option("--name", help="单位名称 (the unit's name)")],
        parent: Annotated[str | None, typer.Option("--parent", help="上级单位代码或名称 (the parent's key or name)")] = None,
        tag: Annotated[list[str] | None, typer.Option("--tag", help="标签，可重复 (a tag; repeat for several)")] = None,
        contact: Annotated[list[str] | None, typer.Option("--contact", help="联系人 '姓名,职务,邮箱,电话'，可重复 "
                                                                         "(a contact 'name,role,email,phone'; repeatable)")] = None,
        at: AtOpt = None, by: ByOpt = None, as_json: JsonOpt = False) -> None:
    """新增单位：按报送对象规则生成应报材料 (add a unit: it owes what the audience rules give it)."""
    from campaign_model.spec import UnitSpec

    from .usecases import units as uc

    people = [_contact(c) for c in contact or []]
    try:
        unit = UnitSpec(key=key, name=name, parent=parent, tags=list(tag or []), contacts=people)
    except ValidationError as exc:
        from campaign_model.unitfile import _pydantic_message

        raise InvalidInput(_pydantic_message(exc.errors()[0]), field="key") from None
    s = uc.add_unit(_services(), act(at, by, campaign_tz(campaign)), campaign, unit)
    emit(s, as_json, lambda d: f"已新增单位 {d['unit']} (added)：应报材料 (obligations) {d['obligations_added']}"
                               + (f"，已结束阶段免报 (waived, phases completed) {d['obligations_waived']}"
                                  if d["obligations_waived"] else ""))


def rename(campaign: str, unit: str, name: str, at: AtOpt = None, by: ByOpt = None, as_json: JsonOpt = False) -> None:
    """单位改名，代码不变 (rename a unit; its key stays)."""
    from .usecases import units as uc

    s = uc.rename_unit(_services(), act(at, by, campaign_tz(campaign)), campaign, unit, name)
    emit(s, as_json, lambda d: f"{d['unit']}: {d['name']}" + ("" if d["changed"] else "（未变 unchanged）"))


def move(campaign: str, unit: str,
         parent: Annotated[str | None, typer.Option("--parent", help="新的上级单位 (the new parent)")] = None,
         top: Annotated[bool, typer.Option("--top", help="移到最上级，没有上级单位 (to the top, without a parent)")] = False,
         reason: Reason = None, at: AtOpt = None, by: ByOpt = None, as_json: JsonOpt = False) -> None:
    """调整上级单位，不能移到自己或下级之下 (move a unit under another parent; never below itself)."""
    from .usecases import units as uc

    if (parent is None) == (not top):
        raise InvalidInput("请给出 --parent 或 --top 之一 (give --parent or --top)", field="parent")
    s = uc.move_unit(_services(), act(at, by, campaign_tz(campaign)), campaign, unit, parent, reason)
    emit(s, as_json, lambda d: f"{d['unit']}: 上级 (parent) {d['parent'] or '—'}" + (
        f"；新增应报 (obligations added) {d['obligations_added']}，免报 (waived) {d['obligations_waived']}"
        if d["changed"] else "（未变 unchanged）"))


def merge(campaign: str, unit: str,
          into: Annotated[str, typer.Option("--into", help="并入的单位 (the unit it is merged into)")],
          reason: ReasonRequired = None, at: AtOpt = None, by: ByOpt = None, as_json: JsonOpt = False) -> None:
    """并入另一单位：本单位撤销，未报材料免报，下级单位和未销号台账转入 (merge a unit into another)."""
    from .usecases import units as uc

    s = uc.merge_unit(_services(), act(at, by, campaign_tz(campaign)), campaign, unit, into, reason)
    emit(s, as_json, lambda d: (f"{d['unit']} 已并入 (merged into) {d['into']}：免报 (waived) {d['obligations_waived']}，"
                                f"下级转入 (units moved) {len(d['children_moved'])}，台账转入 (ledger items moved) "
                                f"{len(d['ledger_items_moved'])}"))


def close(campaign: str, unit: str, reason: ReasonRequired = None, at: AtOpt = None, by: ByOpt = None,
          as_json: JsonOpt = False) -> None:
    """撤销单位（撤并、停办）：未报材料免报并记录理由 (close a unit; its open obligations waived with the reason)."""
    from .usecases import units as uc

    s = uc.close_unit(_services(), act(at, by, campaign_tz(campaign)), campaign, unit, reason)
    emit(s, as_json, lambda d: f"{d['unit']} 已撤销 (closed)：免报 (waived) {d['obligations_waived']}" + (
        f"；未销号台账 (open ledger items) {len(d['open_ledger_items'])} 条仍在该单位名下" if d["open_ledger_items"] else ""))


def contacts(campaign: str, unit: str,
             contact: Annotated[list[str] | None, typer.Option("--contact", help="联系人 '姓名,职务,邮箱,电话'，可重复；"
                                                                              "替换原有联系人 (replaces the contacts; "
                                                                              "repeatable)")] = None,
             clear: Annotated[bool, typer.Option("--clear", help="删除全部联系人 (remove every contact)")] = False,
             at: AtOpt = None, by: ByOpt = None, as_json: JsonOpt = False) -> None:
    """设置单位的联系人（催办发往此处）(set a unit's contacts: where its reminders go)."""
    from .usecases import units as uc

    if bool(contact) == clear:
        raise InvalidInput("请给出 --contact（可重复）或 --clear 之一 (give --contact, repeatable, or --clear)", field="contact")
    people = [_contact(c) for c in contact or []]
    s = uc.set_contacts(_services(), act(at, by, campaign_tz(campaign)), campaign, unit, people)
    emit(s, as_json, lambda d: f"{d['unit']}: 联系人 (contacts) {len(d['contacts'])}" + ("" if d["changed"] else "（未变 unchanged）"))


def preview(campaign: str, file: Path, as_json: JsonOpt = False) -> None:
    """预览单位名单：将新增、改名、调整、撤销哪些单位，不导入 (what importing a list would change; imports nothing)."""
    from campaign_model.unitfile import read_units

    from .usecases import units as uc

    doc = uc.preview_import(_services(), campaign, read_units(file))
    emit(doc, as_json, _preview_text)


def _preview_text(d: dict[str, Any]) -> str:
    lines = [f"新增 (added) {len(d['added'])}: " + ", ".join(a["key"] for a in d["added"]),
             f"改名 (renamed) {len(d['renamed'])}: " + ", ".join(f"{a['key']} {a['before']} -> {a['after']}" for a in d["renamed"]),
             f"调整上级 (moved) {len(d['moved'])}: " + ", ".join(f"{a['key']} {a['before']} -> {a['after']}" for a in d["moved"]),
             f"标签或联系人变更 (changed) {len(d['changed'])}: " + ", ".join(a["key"] for a in d["changed"]),
             f"撤销 (removed) {len(d['removed'])}: " + ", ".join(a["key"] for a in d["removed"]),
             f"未变 (unchanged) {d['unchanged']}"]
    lines += [f"问题 (problem): {p}" for p in d["problems"]]
    return "\n".join(line.rstrip(": ") for line in lines)


def register(units_app: typer.Typer) -> None:
    for name, command in (("add", add), ("rename", rename), ("move", move), ("merge", merge), ("close", close),
                          ("contacts", contacts), ("preview", preview)):
        units_app.command(name)(command)
