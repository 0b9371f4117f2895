"""Errors of the campaign domain.

    CampaignError               anything the user can act on (the CLI exits 2 and prints the message)
    ├── SpecInvalid             a spec or unit list with problems; carries every `Problem`
    ├── NotFound                a campaign, unit, artifact or obligation that does not exist
    ├── InvalidInput            a command whose arguments break a rule (filing without sign-off, ...)
    ├── ConflictError           a state change that the current state forbids (review of nothing filed)
    ├── AuthFailed              a login refused: wrong name or password, or a disabled account (never says which)
    └── Throttled               too many failed logins lately; carries `retry_after` (seconds)
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One finding about an input file: where it is and what is wrong, in words an admin can act on."""

    file: str
    line: int | None
    path: str
    message: str
    severity: str = "error"  # "error" | "warning"

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else f"{self.file}"
        level = "warning: " if self.severity == "warning" else ""
        return f"{where}: {self.path}: {level}{self.message}" if self.path else f"{where}: {level}{self.message}"


class CampaignError(Exception):
    """Base of the errors a user can act on. `field` names the input at fault in the caller's own terms
    (a form field / option name such as "signed_by", "unit", "rows", "at"): the CLI prints it as its flag
    (--signed-by), the API and the pages as the form field, so nobody parses a message to find it."""

    def __init__(self, message: str = "", *, field: str | None = None):
        super().__init__(message)
        self.field = field


class SpecInvalid(CampaignError):
    def __init__(self, problems: list[Problem]):
        self.problems = [p for p in problems if p.severity == "error"]
        self.warnings = [p for p in problems if p.severity != "error"]
        super().__init__("\n".join(str(p) for p in self.problems))


class NotFound(CampaignError):
    pass


class InvalidInput(CampaignError):
    pass


class ConflictError(CampaignError):
    pass


class AuthFailed(CampaignError):
    pass


class Throttled(CampaignError):
    def __init__(self, retry_after: int):
        self.retry_after = retry_after
        super().__init__(f"登录失败次数过多，请 {retry_after} 秒后再试 "
                         f"(too many failed logins; try again in {retry_after} seconds)")
