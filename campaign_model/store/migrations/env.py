"""Alembic environment: the engine is handed in by `db.upgrade` (config.attributes['engine'])."""

from alembic import context
from sqlalchemy import create_engine

from campaign_model.store.tables import metadata

config = context.config
engine = config.attributes.get("engine") or create_engine(config.get_main_option("sqlalchemy.url"))

with engine.begin() as connection:
    context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
    context.run_migrations()
