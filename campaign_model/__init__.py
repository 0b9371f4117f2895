"""The domain of multi-stage campaigns: specs (pydantic), the working-day calendar, due instants,
reminder slots, obligation and phase rules, the rectification ledger, the audit chain, the shipped
templates, and the readers of units and rows files.

Plain functions over plain data and an explicit instant: no clock, no I/O framework. May import only
the standard library and pydantic/yaml/openpyxl; `store/` below is its storage and the only part that
imports SQLAlchemy. Imported by every other package; imports none of them.
"""
