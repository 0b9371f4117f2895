"""Alembic environment: the engine is handed in by `db.upgrade` (config.attributes['engine']).

On SQLite, batch migrations copy a table and drop the old one; foreign keys are switched off for
the duration (they can only be switched outside a transaction) and checked again at the end.

All the pending migrations run in ONE transaction, on SQLite too: an upgrade killed half-way leaves the
database as it was, and the next upgrade runs them all again. (Python's sqlite3 module does not begin a
transaction before DDL, and Alembic treats SQLite as non-transactional and commits after each migration:
a `CREATE TABLE` was committed at once, and an upgrade killed after it could never complete, "table
already exists". Here the driver's own transaction handling is switched off for the migration, BEGIN is
issued explicitly, and Alembic is told the DDL is transactional, which SQLite's is.)
"""

from typing import Any

from alembic import context
from sqlalchemy import create_engine

from campaign_model.store.tables import metadata

config = context.config
engine = config.attributes.get("engine") or create_engine(config.get_main_option("sqlalchemy.url"))

with engine.connect() as connection:
    sqlite = connection.dialect.name == "sqlite"
    driver: Any = connection.connection.driver_connection if sqlite else None
    legacy = getattr(driver, "isolation_level", None)
    if sqlite:
        connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
        connection.commit()  # end the transaction the PRAGMA began: the migration runs in one of its own
        driver.isolation_level = None  # the driver begins nothing by itself: the BEGIN below covers the DDL too
        connection.exec_driver_sql("BEGIN")
    try:
        context.configure(connection=connection, target_metadata=metadata, render_as_batch=True,
                          transactional_ddl=True,
                          # APScheduler keeps its own job table in the same database
                          include_object=lambda obj, name, kind, *_: not (kind == "table" and name == "apscheduler_jobs"))
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()
    finally:
        if sqlite:
            if driver.in_transaction:  # a migration failed: nothing of it stays
                driver.rollback()
            driver.isolation_level = legacy  # the pooled connection as the application expects it
    if sqlite:
        broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
        connection.exec_driver_sql("PRAGMA foreign_keys=ON")
        if broken:
            raise RuntimeError(f"foreign keys broken by the migration: {broken[:5]}")
