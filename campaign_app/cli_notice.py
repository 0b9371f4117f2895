"""The `notice` command: the weekly notice (通报) of overdue units, as Markdown or an Excel sheet.

Kept apart from cli.py and registered there; it parses the options and calls the use case
(usecases.reminders.notice).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

notice_app = typer.Typer(add_completion=False, help="通报 (notices)")


@notice_app.command("notice")
def notice(
    campaign: str,
    at: Annotated[str | None, typer.Option("--at", help="通报时刻 ISO-8601 (the instant of the notice; default: now)")] = None,
    fmt: Annotated[str | None, typer.Option("--format", help="md 或 xlsx；默认按 --out 的扩展名 "
                                                          "(md or xlsx; default: from --out)")] = None,
    out: Annotated[Path | None, typer.Option("--out", help="输出文件；不给则 Markdown 打印到屏幕 "
                                                        "(output file; default: Markdown to stdout)")] = None,
    lang: Annotated[str | None, typer.Option("--lang", help="zh 或 en；默认为活动的语言 "
                                                         "(zh or en; default: the campaign's language)")] = None,
) -> None:
    """通报：按上级单位列出逾期未报的单位和材料 (the notice: overdue units and items, by parent unit)."""
    from campaign_app.cli_common import campaign_tz, parse_instant, services
    from campaign_app.usecases.reminders import LANGS, NOTICE_FORMATS
    from campaign_app.usecases.reminders import notice as build
    from campaign_model.errors import InvalidInput

    # checked before any database work, so a typo costs nothing and changes nothing
    if fmt is None:
        fmt = "xlsx" if out is not None and out.suffix.lower() == ".xlsx" else "md"
    if fmt not in NOTICE_FORMATS:
        raise InvalidInput(f"--format: 不支持的格式 '{fmt}'，可选 md、xlsx (unsupported format; use md or xlsx)")
    if lang is not None and lang not in LANGS:
        raise InvalidInput(f"--lang: 不支持的语言 '{lang}'，可选 zh、en (unsupported language; use zh or en)")
    if fmt == "xlsx" and out is None:
        raise InvalidInput("--format xlsx 需要用 --out 指定输出文件 (an Excel notice needs --out FILE.xlsx)")

    instant = parse_instant(at, campaign_tz(campaign)) if at else None
    doc = build(services(), campaign, at=instant, fmt=fmt, lang=lang, out=out)
    if out is None:
        typer.echo(doc["markdown"], nl=False)
        return
    typer.echo(f"已写入通报 (notice written): {out} — {doc['units_overdue']} 个单位 (units), "
               f"{doc['items_overdue']} 项逾期 (overdue items)")
