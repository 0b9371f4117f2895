"""Alembic environment: the engine is handed in by `db.upgrade` (config.attributes['engine']).

On SQLite, batch migrations copy a table and drop the old one; foreign keys are switched off for
the duration (they can only be switched outside a transaction) and checked again at the end.
"""

from alembic import context
from sqlalchemy import create_engine

from campaign_model.store.tables import metadata

config = context.config
engine = config.attributes.get("engine") or create_engine(config.get_main_option("sqlalchemy.url"))

with engine.connect() as connection:
    sqlite = connection.dialect.name == "sqlite"
    if sqlite:
        connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
        connection.commit()  # end the transaction the PRAGMA began: the migration runs in one of its own
    context.configure(connection=connection, target_metadata=metadata, render_as_batch=True,
                      # APScheduler keeps its own job table in the same database
                      include_object=lambda obj, name, kind, *_: not (kind == "table" and name == "apscheduler_jobs"))
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
    if sqlite:
        broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
        connection.exec_driver_sql("PRAGMA foreign_keys=ON")
        if broken:
            raise RuntimeError(f"foreign keys broken by the migration: {broken[:5]}")
