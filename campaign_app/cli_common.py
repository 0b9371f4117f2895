"""What every `campaign` command shares: the wiring built once per process, the instant and the actor of
an action, the common options, and printing. `cli.py` and the `cli_*` modules import this module and
never each other (cli.py only registers their sub-apps).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import typer
from sqlalchemy import Connection

from campaign_model.errors import InvalidInput
from campaign_model.store.audit import Act

from .settings import Settings
from .usecases.services import Services, wall_clock

AtOpt = Annotated[str | None, typer.Option("--at", help="操作时刻 ISO-8601，按活动时区 (the instant, campaign-local; default: now)")]
ByOpt = Annotated[str | None, typer.Option("--by", help="操作人；不给则取 $CAMPAIGN_ACTOR，两者都没有则拒绝执行 "
                                                       "(the actor; default: $CAMPAIGN_ACTOR; required to change anything)")]
JsonOpt = Annotated[bool, typer.Option("--json", help="输出 JSON (print one JSON document)")]


@lru_cache(maxsize=1)
def settings() -> Settings:
    """The settings, read from the environment once per process."""
    return Settings.from_env()


@lru_cache(maxsize=1)
def services() -> Services:
    """The wiring the use cases take: the database (migrated on first use), the file store, the clock."""
    from campaign_model.store.db import open_engine

    s = settings()
    return Services(s, open_engine(s.db_url))


@contextmanager
def transaction() -> Iterator[Connection]:
    with services().engine.begin() as conn:
        yield conn


def now() -> dt.datetime:
    return wall_clock()


def parse_instant(text: str | None, tz: ZoneInfo) -> dt.datetime:
    """--at: an ISO date-time (local to the campaign unless it carries an offset) or a date (its 00:00)."""
    if text is None:
        return now()
    try:
        value = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise InvalidInput(f"--at: 无法识别的时刻 '{text}'，应写作 2023-04-05T09:00 (cannot read instant; use ISO 8601)",
                           field="at") from None
    return (value if value.tzinfo else value.replace(tzinfo=tz)).astimezone(dt.UTC)


def campaign_tz(key: str) -> ZoneInfo:
    from campaign_model.store.campaigns import load_ctx

    with transaction() as conn:
        return load_ctx(conn, key).tz


def actor(by: str | None, system: str | None = None) -> str:
    """Who a state change is recorded as: --by, else $CAMPAIGN_ACTOR, else (for a tick, the machine's own
    work) the system actor; otherwise refused, never the OS user (`root` on a server names nobody)."""
    name = (by or "").strip() or settings().actor or system
    if not name:
        raise InvalidInput("请写明操作人：--by 张三，或设置环境变量 export CAMPAIGN_ACTOR=张三 "
                           "(who is acting? give --by 张三 or export CAMPAIGN_ACTOR=张三)", field="by")
    return name


def act(at: str | None, by: str | None, tz: ZoneInfo, system: str | None = None) -> Act:
    return Act(parse_instant(at, tz), actor(by, system), now())


def emit(doc: Any, as_json: bool, human: Callable[[Any], str] | None = None) -> None:
    if as_json or human is None:
        typer.echo(json.dumps(doc, ensure_ascii=False, indent=2, default=str))
    else:
        typer.echo(human(doc))


def reminder_words(r: dict[str, Any]) -> str:
    """What a tick did with the reminders: sent by real channels, or only written to the outbox file."""
    from notifications.dispatch import CHANNEL_LABEL, FILE_KIND

    deliveries = r.get("deliveries") or {}
    real = [f"{CHANNEL_LABEL['zh'].get(c['kind'], c['kind'])} {name} {c['reminders']}"
            for name, c in deliveries.items() if c["kind"] != FILE_KIND]
    words = f"已发送 (sent) {r['reminders_sent']}" + (f" ({', '.join(real)})" if real else "")
    for c in deliveries.values():
        if c["kind"] == FILE_KIND:
            words += f", 未发出，已写入发件箱文件 (not sent, written to the outbox file {c.get('path', '')}) {c['reminders']}"
    return words
