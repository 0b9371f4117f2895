"""What a tick needs beyond sending: the database and where the outbox file of a campaign is.

`FlowSettings` adds CAMPAIGN_DB_URL to the sending settings (notifications.settings); the application's
settings extend it in turn. The flows themselves take plain arguments (the database URL, the outbox
file, a `DeliveryConfig`); only an edge that has nothing but the environment builds these settings:
the Prefect worker's entry flow (flows/deploy.py: scheduled_tick).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import model_validator

from notifications.settings import NotificationSettings, default_home


class FlowSettings(NotificationSettings):
    # another database (e.g. postgresql+psycopg://user@host/campaignflow); default: campaign.db in the data directory
    db_url: str = ""

    @model_validator(mode="before")
    @classmethod
    def _default_db(cls, data: Any) -> Any:
        if isinstance(data, dict) and not data.get("db_url"):
            home = data.get("home")
            home = Path(home).expanduser().resolve() if home else default_home()
            data = {**data, "db_url": f"sqlite:///{home / 'campaign.db'}"}
        return data

    @model_validator(mode="after")
    def _known_database(self) -> FlowSettings:
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError

        try:
            make_url(self.db_url)
        except ArgumentError:
            # never echo the value: it may carry a password
            raise ValueError("CAMPAIGN_DB_URL 不是有效的数据库地址，应形如 postgresql+psycopg://user@host/campaignflow "
                             "(not a database URL)") from None
        return self

    def outbox_file(self, campaign: str) -> Path:
        return self.home / "outbox" / f"{campaign}.jsonl"
