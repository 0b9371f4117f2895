"""The settings, one object: read from the environment once at an edge (`cli_common.settings()`, `serve`,
`app_from_env`) and passed down.

Every variable is declared once, in the lowest layer that uses it, and this class has them all:

    CAMPAIGN_HOME, CAMPAIGN_CHANNELS, CAMPAIGN_DELIVERY_MAX_ATTEMPTS, CAMPAIGN_DELIVERY_BACKOFF_SECONDS,
    CAMPAIGN_PUBLIC_URL                            notifications.settings.NotificationSettings
    CAMPAIGN_DB_URL                                flows.settings.FlowSettings
    CAMPAIGN_SECURE_COOKIES, CAMPAIGN_ACTOR, CAMPAIGN_DEBUG, CAMPAIGN_CHROMIUM   here

An empty variable counts as unset. A value that cannot be right (a public URL that is no http(s)
address, a retry count below 1, a yes/no that is neither) is refused with the variable's name
(`from_env`: InvalidInput, exit 2 on the command line) rather than quietly replaced by a default.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic import field_validator

from flows.settings import FlowSettings


class Settings(FlowSettings):
    secure_cookies: bool = False  # behind HTTPS (a reverse proxy): cookies are sent over HTTPS only
    # who the command line acts as when --by is not given ($CAMPAIGN_ACTOR); never the OS user, which on a
    # shared server is `root` and names nobody in a report
    actor: str | None = None
    debug: bool = False  # an unexpected error shows its traceback
    chromium: str | None = None  # the browser that prints reports to PDF (default: found on the PATH)

    def __init__(self, home: Path | str | None = None, db_url: str | None = None, **values: Any) -> None:
        # Settings(home, db_url) for a test or the demo; the rest from the environment
        if home is not None:
            values["home"] = home
        if db_url is not None:
            values["db_url"] = db_url
        super().__init__(**values)

    @field_validator("actor")
    @classmethod
    def _name(cls, value: str | None) -> str | None:
        return (value or "").strip() or None

    @property
    def files_dir(self) -> Path:
        return self.home / "files"

    def prepare_prefect(self) -> None:
        """Prefect keeps its home in our data directory, sends no analytics, and logs quietly."""
        os.environ.setdefault("PREFECT_HOME", str(self.home / "prefect"))
        Path(os.environ["PREFECT_HOME"]).mkdir(parents=True, exist_ok=True)
        os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
        os.environ.setdefault("PREFECT_LOGGING_LEVEL", "ERROR")
        os.environ.setdefault("PREFECT_LOGGING_TO_API_ENABLED", "false")
        os.environ.setdefault("PREFECT_SERVER_LOGGING_LEVEL", "ERROR")
        # the embedded (ephemeral) server needs none of its background services but the task run recorder
        # (without it a flow run's task runs are never stored): ticks are scheduled by APScheduler, and on two
        # cores those services slow every flow run several-fold
        for service in ("SCHEDULER", "LATE_RUNS", "FOREMAN", "CANCELLATION_CLEANUP", "PAUSE_EXPIRATIONS",
                        "TRIGGERS", "REPOSSESSOR"):
            os.environ.setdefault(f"PREFECT_SERVER_SERVICES_{service}_ENABLED", "false")
        # the recorder writes task runs in batches (at most every 5 s), not one SQLite transaction per task state:
        # one at a time, its writes locked the database under the API, which then made flow runs retry (2 s each)
        os.environ.setdefault("PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_BATCH_SIZE", "100")
        os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "90")
