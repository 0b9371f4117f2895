"""Settings from the environment: the data directory, the database, and Prefect's home inside it."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Settings:
    home: Path
    db_url: str
    secure_cookies: bool = False  # behind HTTPS (a reverse proxy): cookies are sent over HTTPS only
    # who the command line acts as when --by is not given ($CAMPAIGN_ACTOR); never the OS user, which on a
    # shared server is `root` and names nobody in a report
    actor: str | None = None

    @property
    def files_dir(self) -> Path:
        return self.home / "files"

    def outbox_file(self, campaign: str) -> Path:
        return self.home / "outbox" / f"{campaign}.jsonl"

    @classmethod
    def from_env(cls) -> "Settings":
        home = Path(os.environ.get("CAMPAIGN_HOME") or Path.home() / ".campaignflow").expanduser().resolve()
        url = os.environ.get("CAMPAIGN_DB_URL") or f"sqlite:///{home / 'campaign.db'}"
        secure = os.environ.get("CAMPAIGN_SECURE_COOKIES", "").lower() in ("1", "true", "yes")
        return cls(home, url, secure, (os.environ.get("CAMPAIGN_ACTOR") or "").strip() or None)

    def prepare_prefect(self) -> None:
        """Prefect keeps its home in our data directory, sends no analytics, and logs quietly."""
        os.environ.setdefault("PREFECT_HOME", str(self.home / "prefect"))
        Path(os.environ["PREFECT_HOME"]).mkdir(parents=True, exist_ok=True)
        os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
        os.environ.setdefault("PREFECT_LOGGING_LEVEL", "ERROR")
        os.environ.setdefault("PREFECT_LOGGING_TO_API_ENABLED", "false")
        os.environ.setdefault("PREFECT_SERVER_LOGGING_LEVEL", "ERROR")
        # the embedded (ephemeral) server needs none of its background services: ticks are scheduled by
        # APScheduler or run by hand, and on two cores those services slow every flow run several-fold
        for service in ("SCHEDULER", "LATE_RUNS", "FOREMAN", "CANCELLATION_CLEANUP", "PAUSE_EXPIRATIONS",
                        "TRIGGERS", "TASK_RUN_RECORDER", "REPOSSESSOR"):
            os.environ.setdefault(f"PREFECT_SERVER_SERVICES_{service}_ENABLED", "false")
        os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "90")
