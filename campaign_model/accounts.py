"""Accounts: roles, the rules a user name and a password must follow, and login throttling.

Plain rules over plain data and an explicit instant; storage lives in `store/accounts.py`.

Throttling is a sliding window: at most `MAX_FAILURES_PER_NAME` failed logins for one name, and
`MAX_FAILURES_PER_SOURCE` from one client address, within `THROTTLE_WINDOW`. An attempt beyond that
is refused before the password is even checked, until enough failures have aged out of the window.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import secrets
from collections.abc import Sequence

from .errors import InvalidInput

ROLES = ("admin", "supervisor", "unit", "viewer")
ROLE_TEXT = {
    "admin": ("管理员：管理活动、单位和账号", "administrator: campaigns, units and accounts"),
    "supervisor": ("督导：审核材料、核验销号、回头看复查", "supervisor: reviews filings, verifies and re-checks ledger items"),
    "unit": ("单位：报送本单位材料、报告整改进展", "unit: files its own artifacts and reports rectification progress"),
    "viewer": ("查看：只读", "viewer: read only"),
}

# why a unit of a campaign gets no account in bulk (store.account_bulk): (zh, en), {name}/{owners} filled in
SKIP_REASONS = {
    "has_account": ("已有单位账号：{owners}", "already has an account: {owners}"),
    "name_taken": ("用户名 {name} 已被其他账号使用，请手工添加", "user name {name} is taken by another account; add one by hand"),
    "bad_name": ("单位代码不能作用户名，请手工添加", "the unit key cannot be a user name; add one by hand"),
    "removed": ("单位已撤销", "the unit was removed from the campaign"),
    "organizer": ("主办单位（由管理员账号操作）", "the organizer (worked by administrator accounts)"),
}

PASSWORD_MIN_LENGTH = 10
THROTTLE_WINDOW = dt.timedelta(minutes=15)
MAX_FAILURES_PER_NAME = 5  # a sixth attempt within the window is refused
MAX_FAILURES_PER_SOURCE = 20  # one address trying many names

NAME_MAX_LENGTH = 64
# ASCII letters, digits and _ . @ -, and CJK ideographs (basic block, extension A, compatibility)
_NAME = re.compile(r"[A-Za-z0-9_.@\-\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]{1,64}")


def check_user_name(name: str) -> None:
    if not _NAME.fullmatch(name):
        raise InvalidInput(f"用户名 '{name}' 无效：只能用字母、数字、汉字和 _ . @ -，1 至 {NAME_MAX_LENGTH} 个字符 "
                           f"(invalid user name: use letters, digits, Chinese characters and _ . @ -, "
                           f"1 to {NAME_MAX_LENGTH} characters)", field="name")


def check_role(role: str, unit: str | None) -> None:
    """A `unit` account names its unit; the other roles see every unit and so name none."""
    if role not in ROLES:
        raise InvalidInput(f"未知角色 '{role}'，可选 {'、'.join(ROLES)} (unknown role; use one of {', '.join(ROLES)})",
                           field="role")
    if role == "unit" and not unit:
        raise InvalidInput("单位账号须指定单位代码 (a unit account needs its unit key)", field="unit")
    if role != "unit" and unit is not None:
        raise InvalidInput(f"只有单位账号才指定单位，角色 {role} 不应有单位 (only a unit account names a unit; "
                           f"role {role} takes none)", field="unit")
    if unit is not None and len(unit) > NAME_MAX_LENGTH:
        raise InvalidInput(f"单位代码过长，最多 {NAME_MAX_LENGTH} 个字符 (unit key longer than {NAME_MAX_LENGTH} characters)",
                           field="unit")


def check_password_policy(pw: str, name: str | None = None) -> None:
    """Refuse a password that is short, all digits (a birthday, a phone number) or the user name."""
    if len(pw) < PASSWORD_MIN_LENGTH:
        raise InvalidInput(f"密码至少 {PASSWORD_MIN_LENGTH} 个字符 (a password needs at least {PASSWORD_MIN_LENGTH} characters)",
                           field="password")
    if pw.isdigit():
        raise InvalidInput("密码不能全是数字 (a password cannot be all digits)", field="password")
    if name is not None and pw.casefold() == name.casefold():
        raise InvalidInput("密码不能与用户名相同 (a password cannot be the user name)", field="password")


# no 0/O, 1/l/I: a one-time password is read off a sheet and typed by hand
_ONE_TIME_ALPHABET = "abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"


def one_time_password() -> str:
    """A random password an administrator hands over (four groups of four, about 92 bits), which meets the policy."""
    while True:
        groups = ["".join(secrets.choice(_ONE_TIME_ALPHABET) for _ in range(4)) for _ in range(4)]
        pw = "-".join(groups)
        if not pw.replace("-", "").isdigit():
            return pw


def _wait(failures: Sequence[dt.datetime], limit: int, at: dt.datetime) -> int | None:
    recent = sorted(f for f in failures if at - THROTTLE_WINDOW < f <= at)
    if len(recent) < limit:
        return None
    # the attempt is allowed again once the window holds limit - 1 failures: when this one ages out
    # (the oldest one, unless concurrent attempts slipped more than `limit` failures in)
    frees = recent[len(recent) - limit] + THROTTLE_WINDOW
    return max(1, math.ceil((frees - at).total_seconds()))


def throttle_verdict(failures_by_name: list[dt.datetime], failures_by_source: list[dt.datetime],
                     at: dt.datetime) -> int | None:
    """Seconds to wait before the next login attempt may be checked, or None when it may be now."""
    waits = [w for w in (_wait(failures_by_name, MAX_FAILURES_PER_NAME, at),
                         _wait(failures_by_source, MAX_FAILURES_PER_SOURCE, at)) if w is not None]
    return max(waits) if waits else None
