"""The account commands: `campaign user add|list|passwd|reset|bulk|disable|enable` and `campaign token create|list|revoke`.

Accounts are not tied to a campaign, so these commands take no --at: they act now. Passwords are read
hidden from the terminal (twice) or, for scripts, as one line on standard input; never as an argument,
which would end up in the shell history and the process list. A one-time password (`user add --one-time`,
`user reset`) is made by the system and printed once; `user bulk` writes the handover XLSX of a campaign's
new unit accounts, the only copy of their passwords. Each command calls one use case
(campaign_app.usecases.accounts).
"""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import typer

from campaign_model.accounts import ROLE_TEXT, SKIP_REASONS
from campaign_model.errors import InvalidInput

from .cli_common import ByOpt, JsonOpt, act, emit, services
from .usecases import accounts
from .usecases.account_sheet import account_sheet

user_app = typer.Typer(no_args_is_help=True, help="账号 (user accounts for the HTTP service)")
token_app = typer.Typer(no_args_is_help=True, help="API 令牌 (API tokens)")

SHOWN_TZ = ZoneInfo("Asia/Shanghai")  # accounts belong to no campaign: instants are shown in the default zone

StdinOpt = Annotated[bool, typer.Option("--password-stdin", help="从标准输入读一行作为密码 (read the password as one line from stdin)")]


def _read_password(from_stdin: bool) -> str:
    if not from_stdin:
        return str(typer.prompt("密码 (password)", hide_input=True, confirmation_prompt="再输入一次 (repeat)"))
    password = sys.stdin.readline().removesuffix("\n").removesuffix("\r")
    if not password:
        raise InvalidInput("标准输入上没有密码 (no password on standard input)")
    return password


def _local(doc: dict[str, Any]) -> dict[str, Any]:
    return {k: v.astimezone(SHOWN_TZ).isoformat() if isinstance(v, dt.datetime) else v for k, v in doc.items()}


def _act(by: str | None) -> Any:
    return act(None, by, SHOWN_TZ)


# --- users ---

@user_app.command("add")
def user_add(name: str, role: Annotated[str, typer.Option("--role", help="admin|supervisor|unit|viewer")],
             unit: Annotated[str | None, typer.Option("--unit", help="单位代码，仅单位账号 (unit key; role unit only)")] = None,
             display_name: Annotated[str | None, typer.Option("--display-name", help="姓名 (full name)")] = None,
             password_stdin: StdinOpt = False,
             no_password: Annotated[bool, typer.Option("--no-password", help="不设密码，只能用 API 令牌 (token-only account)")] = False,
             one_time: Annotated[bool, typer.Option("--one-time", help="生成一次性密码并显示一次，首次登录须修改 "
                                                                   "(generate a one-time password, printed once; "
                                                                   "to be changed at the first login)")] = False,
             by: ByOpt = None, as_json: JsonOpt = False) -> None:
    """添加账号 (add a user account)."""
    if sum((no_password, password_stdin, one_time)) > 1:
        raise InvalidInput("--no-password、--password-stdin 与 --one-time 只能选一个 (give at most one of them)")
    # a typo in the name or role is reported before anyone types a password
    accounts.check_new_user(name, role, unit)
    password = None if no_password or one_time else _read_password(password_stdin)
    doc = accounts.add_user(services(), _act(by), name, role, unit=unit, password=password, display_name=display_name,
                            one_time=one_time)
    emit(_local(doc), as_json, lambda d: f"已添加用户 {d['name']}，角色 {role}（{ROLE_TEXT[role][0]}）"
                                        + (f"，单位 {d['unit']}" if d["unit"] else "") + " (user added)"
                                        + (f"\n一次性密码 (one-time password): {d['one_time_password']}"
                                           if d.get("one_time_password") else ""))
    if one_time:
        typer.echo(_ONCE, err=True)


_ONCE = "此一次性密码只显示这一次，首次登录须修改 (shown this once only; it must be changed at the first login)"


@user_app.command("reset")
def user_reset(name: str, by: ByOpt = None, as_json: JsonOpt = False) -> None:
    """重置为一次性密码并显示一次；其网页登录全部退出 (reset to a one-time password, printed once; sessions end)."""
    password = accounts.reset_password(services(), _act(by), name)
    emit({"name": name, "one_time_password": password}, as_json,
         lambda d: f"{d['name']} 的一次性密码 (one-time password): {d['one_time_password']}")
    typer.echo(_ONCE, err=True)


@user_app.command("bulk")
def user_bulk(campaign: str,
              out: Annotated[Path, typer.Option("--out", help="一次性密码表 XLSX 的路径 (where to write the handover XLSX)")],
              parent: Annotated[str | None, typer.Option("--parent", help="只为此单位及其下级 (only this unit and those below it)")] = None,
              tag: Annotated[str | None, typer.Option("--tag", help="只为带此标签的单位 (only units with this tag)")] = None,
              login_url: Annotated[str, typer.Option("--login-url", help="表中的登录地址 (the login address in the sheet)")] = "",
              dry_run: Annotated[bool, typer.Option("--dry-run", help="只列出，不创建 (only list; create nothing)")] = False,
              by: ByOpt = None) -> None:
    """为活动中尚无账号的每个单位建一个单位账号，一次性密码写入 XLSX (one unit account per unit without one; passwords to an XLSX)."""
    if not dry_run and out.suffix.lower() != ".xlsx":
        raise InvalidInput(f"--out 应为 .xlsx 文件 (--out must name an .xlsx file): {out}", field="out")
    if not dry_run and out.exists():
        raise InvalidInput(f"{out} 已存在，不覆盖 (already exists; not overwritten)", field="out")
    if dry_run:
        plan = accounts.unit_account_plan(services(), campaign, parent=parent, tag=tag)
    else:
        plan = accounts.create_unit_accounts(services(), _act(by), campaign, parent=parent, tag=tag)
        if plan["create"]:
            sheet = account_sheet(plan["create"], login_url or "（请向管理员询问）", f"{plan['title']} 单位账号（一次性密码）")
            out.write_bytes(sheet)
    for e in plan["create"]:
        typer.echo(f"{'将创建 (to create)' if dry_run else '已创建 (created)'} {e['name']:<16} {e['display_name']}")
    for e in plan["skip"]:
        zh, en = SKIP_REASONS[e["reason"]]
        why = f"{zh} ({en})".replace("{owners}", ", ".join(e["owners"])).replace("{name}", e["name"])
        typer.echo(f"跳过 (skipped) {e['unit']:<16} {e['unit_name']}：{why}")
    if not dry_run:
        typer.echo(f"一次性密码已写入 {out}，这是唯一的副本 (the one-time passwords are in {out}, their only copy)"
                   if plan["create"] else "没有需要创建的账号 (no account to create)", err=True)


@user_app.command("list")
def user_list(as_json: JsonOpt = False) -> None:
    """列出账号 (list user accounts)."""
    docs = [_local(u) for u in accounts.list_users(services())]
    emit(docs, as_json, lambda d: "\n".join(
        f"{u['name']:<20} {u['role']:<10} {u['unit'] or '—':<14} {u['display_name'] or '':<10} "
        f"令牌 (tokens) {u['tokens']}" + ("  已停用 (disabled)" if u["disabled"] else "")
        + ("" if u["password"] else "  无密码 (token only)") for u in d) or "尚无账号 (no users)")


@user_app.command("passwd")
def user_passwd(name: str, password_stdin: StdinOpt = False, by: ByOpt = None) -> None:
    """修改密码，并退出该用户的网页登录 (set a user's password; ends their browser sessions)."""
    accounts.check_user(services(), name)  # an unknown name fails before the password is asked for
    password = _read_password(password_stdin)
    accounts.set_password(services(), _act(by), name, password)
    typer.echo(f"已修改 {name} 的密码，其网页登录已全部退出 (password changed; browser sessions ended)")


@user_app.command("disable")
def user_disable(name: str, by: ByOpt = None) -> None:
    """停用账号：退出网页登录，令牌不再可用 (disable an account: sessions end, tokens are refused)."""
    accounts.set_disabled(services(), _act(by), name, True)
    typer.echo(f"已停用 {name}：网页登录已退出，令牌不再可用 (disabled: sessions ended, tokens refused)")


@user_app.command("enable")
def user_enable(name: str, by: ByOpt = None) -> None:
    """重新启用账号 (enable an account again)."""
    accounts.set_disabled(services(), _act(by), name, False)
    typer.echo(f"已启用 {name} (enabled)")


# --- API tokens ---

@token_app.command("create")
def token_create(name: str,
                 expires: Annotated[int | None, typer.Option("--expires", help="有效天数；默认长期有效 (days; default: no expiry)")] = None,
                 label: Annotated[str | None, typer.Option("--label", help="用途说明 (what it is for)")] = None,
                 by: ByOpt = None, as_json: JsonOpt = False) -> None:
    """发放 API 令牌；令牌只显示这一次 (create an API token; it is shown this once only)."""
    doc = accounts.create_token(services(), _act(by), name, expires_days=expires, label=label)
    emit(_local(doc), as_json,
         lambda d: f"令牌 #{d['id']} ({name}, 有效期至 (expires) {d['expires_at'] or '长期 (never)'}):\n{d['token']}")
    # to stderr, so that --json output stays one document
    typer.echo("请立即妥善保存：此令牌不会再次显示 (store it now: it will not be shown again)", err=True)


STATE_ZH = {"active": "有效", "expired": "已过期", "revoked": "已吊销"}


@token_app.command("list")
def token_list(name: Annotated[str | None, typer.Argument(help="用户名；不给则列出全部 (user; default: all)")] = None,
               as_json: JsonOpt = False) -> None:
    """列出 API 令牌（只显示前缀）(list API tokens; only their prefixes)."""
    docs = [_local(t) for t in accounts.list_tokens(services(), name)]
    emit(docs, as_json, lambda d: "\n".join(
        f"#{t['id']:<5} {t['prefix']}…  {t['user']:<20} {STATE_ZH[t['state']]} ({t['state']})  "
        f"创建 (created) {t['created_at'][:16]}  到期 (expires) {(t['expires_at'] or '—')[:16]}  {t['label'] or ''}"
        for t in d) or "尚无令牌 (no tokens)")


@token_app.command("revoke")
def token_revoke(token_id: Annotated[int, typer.Argument(metavar="ID")], by: ByOpt = None) -> None:
    """吊销 API 令牌 (revoke an API token)."""
    accounts.revoke_token(services(), _act(by), token_id)
    typer.echo(f"已吊销令牌 #{token_id} (token revoked)")
