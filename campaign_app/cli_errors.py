"""How the command line words a domain error: the option at fault first, as the user typed it.

A `CampaignError` names its input in the form/JSON terms (`field="signed_by"`); the command line
shows it as its option (`--signed-by: ...`) when the command that ran has that option. A field the
command takes as an argument, or does not take at all (a password read from stdin), prints no prefix:
an option the user cannot type would mislead.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from campaign_model.errors import CampaignError


def flag(field: str) -> str:
    """The option of a field: signed_by -> --signed-by."""
    return "--" + field.replace("_", "-")


def _invoked(command: Any, argv: Sequence[str]) -> Any:
    """The (sub)command the arguments run: the group's commands are looked up word by word."""
    args = list(argv)
    while hasattr(command, "commands"):
        at = next((i for i, a in enumerate(args) if a in command.commands), None)
        if at is None:
            break
        command, args = command.commands[args[at]], args[at + 1:]
    return command


def _options(command: Any) -> set[str]:
    return {o for p in getattr(command, "params", ()) if getattr(p, "param_type_name", "") == "option"
            for o in (*p.opts, *p.secondary_opts)}


def error_line(exc: CampaignError, command: Any, argv: Sequence[str]) -> str:
    """The one line printed for a domain error; `command` is the CLI's click command, `argv` its arguments."""
    message = str(exc)
    if exc.field:
        option = flag(exc.field)
        # a message of the CLI itself may already start with its option ("--at: ...")
        if option in _options(_invoked(command, argv)) and not message.startswith(option):
            message = f"{option}: {message}"
    return f"错误 (error): {message}"
