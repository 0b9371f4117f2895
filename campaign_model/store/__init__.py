"""The storage of the domain: SQLAlchemy 2 Core tables, Alembic migrations, and one module per noun
with set-based SQL for each rule (predicates.py holds the SQL forms of the pure rules, held to them by
tests/test_rules_vs_sql.py).

The only place with SQL. May import campaign_model and SQLAlchemy/Alembic; never notifications,
flows or campaign_app.
"""
