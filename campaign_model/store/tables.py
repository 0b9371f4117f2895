"""The schema (SQLAlchemy Core). Instants are stored in UTC; the indexes are what the tick scans.

Obligation state: pending | filed | accepted | rejected | waived. `overdue_at` is set by a tick when
an open obligation (pending, rejected) passes its due instant; `done` is kept equal to the gate rule
(`rules.obligation_done`) so that a gate is one index probe, never a scan.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    CursorResult,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
    text,
)

metadata = MetaData()


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Stores aware instants as naive UTC; returns them aware (SQLite keeps no offset)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Any) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given where an instant is required")
        return value.astimezone(dt.UTC).replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Any) -> Any:
        return value.replace(tzinfo=dt.UTC) if value is not None else None


Id = BigInteger().with_variant(Integer, "sqlite")


def inserted_id(result: CursorResult[Any]) -> int:
    """The id of the one row an INSERT just added: `result.inserted_primary_key[0]`, typed (SQLAlchemy
    declares `inserted_primary_key` as `Any | None`; after a single-row INSERT it is the key's Row)."""
    return cast("Sequence[int]", result.inserted_primary_key)[0]


campaigns = Table(
    "campaigns", metadata,
    Column("id", Id, primary_key=True),
    Column("key", String(64), nullable=False, unique=True),
    Column("title", Text, nullable=False),
    Column("title_en", Text),
    Column("timezone", String(64), nullable=False),
    Column("calendar", JSON, nullable=False),
    Column("reminders", JSON, nullable=False),
    Column("artifacts", JSON, nullable=False),
    Column("messages", JSON),
    Column("organizer", String(64)),
    Column("people", JSON),  # the spec's people and offices, and the steps' lead offices (campaign_model.people)
    Column("spec_version", Integer, nullable=False, default=1),
    Column("created_at", UTCDateTime, nullable=False),
    Column("last_tick_at", UTCDateTime),
)

campaign_specs = Table(
    "campaign_specs", metadata,
    Column("id", Id, primary_key=True),
    Column("campaign_id", ForeignKey("campaigns.id"), nullable=False),
    Column("version", Integer, nullable=False),
    Column("text", Text, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("author", Text),  # who wrote this version (None: version 1 of a campaign created before 0007)
    Column("reason", Text),  # why the running campaign was changed
    Column("summary", JSON),  # what changed against the version before: {"changes": [...], "recomputed": n}
    UniqueConstraint("campaign_id", "version"),
)

units = Table(
    "units", metadata,
    Column("id", Id, primary_key=True),
    Column("campaign_id", ForeignKey("campaigns.id"), nullable=False),
    Column("key", String(64), nullable=False),
    Column("name", Text, nullable=False),
    Column("parent_key", String(64)),
    Column("tags", JSON, nullable=False),
    Column("contacts", JSON, nullable=False),
    Column("active", Boolean, nullable=False, default=True),
    Column("removed_at", UTCDateTime),
    Column("removed_reason", Text),
    Column("merged_into", String(64)),  # a merged unit: the key of the unit it went into (migration 0009)
    UniqueConstraint("campaign_id", "key"),
)

phases = Table(
    "phases", metadata,
    Column("id", Id, primary_key=True),
    Column("campaign_id", ForeignKey("campaigns.id"), nullable=False),
    Column("idx", Integer, nullable=False),
    Column("key", String(64), nullable=False),
    Column("title", Text, nullable=False),
    Column("title_en", Text),
    Column("kind", String(32), nullable=False),
    Column("start_at", UTCDateTime, nullable=False),
    Column("end_at", UTCDateTime, nullable=False),
    Column("advance", String(16), nullable=False),
    Column("opens", String(16), nullable=False, default="after_previous", server_default="after_previous"),
    Column("state", String(16), nullable=False, default="pending"),
    Column("started_at", UTCDateTime),
    Column("completed_at", UTCDateTime),
    Column("forced", Boolean, nullable=False, default=False),
    Column("force_reason", Text),
    UniqueConstraint("campaign_id", "key"),
)

requirements = Table(
    "requirements", metadata,
    Column("id", Id, primary_key=True),
    Column("campaign_id", ForeignKey("campaigns.id"), nullable=False),
    Column("phase_id", ForeignKey("phases.id"), nullable=False),
    Column("idx", Integer, nullable=False),
    Column("step_key", String(64), nullable=False),
    Column("step_title", Text, nullable=False),
    Column("artifact", String(64), nullable=False),
    Column("audience", JSON, nullable=False),
    Column("signoff", Boolean, nullable=False),
    Column("review", Boolean, nullable=False),
    Column("reviewer", JSON),  # who reviews, when the spec names them: {"zh": 督导组, "en": Supervising group}
    Column("gating", Boolean, nullable=False),
    Column("due_at", UTCDateTime, nullable=False),
    Column("policy", JSON),  # the reminder policy when the requirement overrides the campaign's
)

obligations = Table(
    "obligations", metadata,
    Column("id", Id, primary_key=True),
    Column("campaign_id", ForeignKey("campaigns.id"), nullable=False),
    Column("phase_id", ForeignKey("phases.id"), nullable=False),
    Column("requirement_id", ForeignKey("requirements.id"), nullable=False),
    Column("unit_id", ForeignKey("units.id"), nullable=False),
    Column("artifact", String(64), nullable=False),
    Column("state", String(16), nullable=False),
    Column("review", Boolean, nullable=False),
    Column("gating", Boolean, nullable=False),
    Column("done", Boolean, nullable=False),
    Column("due_at", UTCDateTime, nullable=False),
    Column("overdue_at", UTCDateTime),
    Column("next_remind_at", UTCDateTime),
    Column("done_at", UTCDateTime),
    Column("filed_at", UTCDateTime),
    Column("late", Boolean),
    Column("waived_reason", Text),
    Column("extended_from", UTCDateTime),  # 延期: the due instant before the first extension (None: never extended)
    Column("extension_reason", Text),
    UniqueConstraint("requirement_id", "unit_id"),
    Index("ix_obligations_unit_artifact", "unit_id", "artifact"),
    Index("ix_obligations_gate", "phase_id", "gating", "done"),
    Index(
        "ix_obligations_open_due", "phase_id", "due_at",
        sqlite_where=text("overdue_at IS NULL AND state IN ('pending', 'rejected')"),
        postgresql_where=text("overdue_at IS NULL AND state IN ('pending', 'rejected')"),
    ),
    Index(
        "ix_obligations_remind", "phase_id", "next_remind_at",
        sqlite_where=text("next_remind_at IS NOT NULL"),
        postgresql_where=text("next_remind_at IS NOT NULL"),
    ),
)

blobs = Table(
    "blobs", metadata,
    Column("sha256", String(64), primary_key=True),
    Column("size", BigInteger, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)

filings = Table(
    "filings", metadata,
    Column("id", Id, primary_key=True),
    Column("obligation_id", ForeignKey("obligations.id"), nullable=False),
    Column("version", Integer, nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Column("by", Text, nullable=False),
    Column("signed_by", Text),
    Column("files", JSON, nullable=False),
    Column("rows", JSON),
    Column("late", Boolean, nullable=False),
    UniqueConstraint("obligation_id", "version"),
)

reviews = Table(
    "reviews", metadata,
    Column("id", Id, primary_key=True),
    Column("obligation_id", ForeignKey("obligations.id"), nullable=False),
    Column("filing_id", ForeignKey("filings.id"), nullable=False),
    Column("decision", String(16), nullable=False),
    Column("comment", Text),
    Column("by", Text, nullable=False),
    Column("at", UTCDateTime, nullable=False),
)

ledger_items = Table(
    "ledger_items", metadata,
    Column("id", Id, primary_key=True),
    Column("campaign_id", ForeignKey("campaigns.id"), nullable=False),
    Column("unit_id", ForeignKey("units.id"), nullable=False),
    # an item from a filed issue list has its obligation and filing; a supervision finding has neither
    Column("obligation_id", ForeignKey("obligations.id"), nullable=True),
    Column("filing_id", ForeignKey("filings.id"), nullable=True),
    Column("row_no", Integer, nullable=False),
    Column("problem", Text, nullable=False),
    Column("category", Text),
    Column("measure", Text),
    Column("mechanism", Text),  # 长效机制 (migration 0012), the fourth of 四个明确
    Column("leader", Text),
    Column("office", Text),
    Column("deadline", Date),
    Column("state", String(16), nullable=False),  # open | in_progress | rectified | closed | returned | reopened
    Column("source", String(32), nullable=False),  # self_check | mass_opinion | supervision | ...
    Column("current", Boolean, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("long_term", Boolean, nullable=False, server_default=false()),  # 长期坚持: stays open
    Column("due_at", UTCDateTime),  # the deadline's instant (end of the local day)
    Column("updated_at", UTCDateTime),
    Column("closed_at", UTCDateTime),
    Column("next_remind_at", UTCDateTime),  # an item's deadline is reminded like an obligation's
    Column("overdue_at", UTCDateTime),
    Index("ix_ledger_campaign_unit", "campaign_id", "unit_id"),
    Index("ix_ledger_remind", "campaign_id", "next_remind_at"),
)

# look-back (回头看): closed items sampled by a look-back step, each to be re-checked by a supervisor
rechecks = Table(
    "rechecks", metadata,
    Column("id", Id, primary_key=True),
    Column("campaign_id", ForeignKey("campaigns.id"), nullable=False),
    Column("item_id", ForeignKey("ledger_items.id"), nullable=False),
    Column("phase_id", ForeignKey("phases.id"), nullable=False),
    Column("step_key", String(64), nullable=False),
    Column("due_at", UTCDateTime, nullable=False),
    Column("state", String(16), nullable=False),  # pending | passed | failed
    Column("sampled_at", UTCDateTime, nullable=False),
    Column("decided_at", UTCDateTime),
    Column("decided_by", Text),
    Column("comment", Text),
    UniqueConstraint("item_id", "step_key", name="uq_recheck_item_step"),
    Index("ix_rechecks_phase_state", "phase_id", "state"),
)

# the history of each ledger item: progress notes, evidence, verification, reopening (append-only)
ledger_events = Table(
    "ledger_events", metadata,
    Column("id", Id, primary_key=True),
    Column("item_id", ForeignKey("ledger_items.id"), nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Column("by", Text, nullable=False),
    Column("action", String(32), nullable=False),  # created | progress | rectified | closed | reopened | rechecked
    Column("state_before", String(16)),
    Column("state_after", String(16), nullable=False),
    Column("note", Text),
    Column("evidence", JSON),  # [{name, sha256, size}]
    Index("ix_ledger_events_item", "item_id", "id"),
)

outbox = Table(
    "outbox", metadata,
    Column("id", Id, primary_key=True),
    Column("campaign_id", ForeignKey("campaigns.id"), nullable=False),
    Column("obligation_id", ForeignKey("obligations.id"), nullable=True),
    Column("ledger_item_id", ForeignKey("ledger_items.id"), nullable=True),  # a reminder of an item's deadline
    Column("kind", String(16), nullable=False),
    Column("slot_day", Date, nullable=False),
    Column("planned_for", UTCDateTime, nullable=False),
    Column("state", String(16), nullable=False),
    Column("recipient", Text, nullable=False),
    Column("channel", String(32), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("sent_at", UTCDateTime),
    Column("message_id", String(64)),
    Column("next_attempt_at", UTCDateTime),
    Column("last_error", Text),
    # per recipient: an item is reminded to its unit and its lead office, on one day and channel, each once
    UniqueConstraint("obligation_id", "kind", "slot_day", "channel", "recipient", name="uq_outbox_slot_channel"),
    UniqueConstraint("ledger_item_id", "kind", "slot_day", "channel", "recipient", name="uq_outbox_item_slot_channel"),
    Index("ix_outbox_state", "campaign_id", "state", "planned_for"),
)

# the weekly notice (通报) to administrators: one row per campaign, week and channel
notices = Table(
    "notices", metadata,
    Column("id", Id, primary_key=True),
    Column("campaign_id", ForeignKey("campaigns.id"), nullable=False),
    Column("week", Date, nullable=False),  # the Monday of the notice's week (local)
    Column("channel", String(32), nullable=False),
    Column("planned_for", UTCDateTime, nullable=False),
    Column("state", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("sent_at", UTCDateTime),
    Column("next_attempt_at", UTCDateTime),
    Column("last_error", Text),
    Column("message_id", String(64)),
    UniqueConstraint("campaign_id", "week", "channel", name="uq_notice_week_channel"),
)

audit_events = Table(
    "audit_events", metadata,
    Column("seq", Id, primary_key=True, autoincrement=False),
    Column("at", UTCDateTime, nullable=False),
    Column("recorded_at", UTCDateTime, nullable=False),
    Column("actor", Text, nullable=False),
    Column("action", String(64), nullable=False),
    Column("campaign", String(64)),
    Column("subject", Text, nullable=False),
    Column("before", JSON),
    Column("after", JSON),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    Index("ix_audit_campaign", "campaign", "seq"),
)

# one row: the chain's head, updated in the same transaction as each append (serializes appenders)
audit_head = Table(
    "audit_head", metadata,
    Column("id", Integer, primary_key=True),
    Column("seq", BigInteger, nullable=False),
    Column("hash", String(64), nullable=False),
)

# each full verification of the chain (on demand or on the schedule of `serve`): when, by whom, up to
# which event, and the verdict; the audit page shows the latest instead of re-hashing the log per view
audit_checks = Table(
    "audit_checks", metadata,
    Column("id", Id, primary_key=True),
    Column("checked_at", UTCDateTime, nullable=False),
    Column("by", Text, nullable=False),
    Column("up_to_seq", BigInteger, nullable=False),
    Column("events", BigInteger, nullable=False),
    Column("ok", Boolean, nullable=False),
    Column("first_bad", BigInteger),
    Column("reason", Text),
)

# --- accounts for the HTTP service: users, API tokens, browser sessions, failed logins ---

users = Table(
    "users", metadata,
    Column("id", Id, primary_key=True),
    Column("name", String(64), nullable=False, unique=True),
    Column("role", String(16), nullable=False),  # admin | supervisor | unit | viewer
    Column("unit", String(64)),  # the unit key of a `unit` account, null for the other roles
    Column("display_name", Text),
    Column("password_hash", Text),  # argon2id; null for a token-only account
    Column("disabled", Boolean, nullable=False, default=False, server_default=false()),
    Column("created_at", UTCDateTime, nullable=False),
    Column("password_changed_at", UTCDateTime),
    # a one-time password (generated, reset): the user must choose their own before anything else
    Column("must_change_password", Boolean, nullable=False, default=False, server_default=false()),
    Column("last_login_at", UTCDateTime),
)

# secrets are stored as sha256 hex only; a token or session cookie is shown once and never kept
api_tokens = Table(
    "api_tokens", metadata,
    Column("id", Id, primary_key=True),
    Column("user_id", ForeignKey("users.id"), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("prefix", String(12), nullable=False),  # the first characters, to tell tokens apart in listings
    Column("label", Text),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime),
    Column("revoked_at", UTCDateTime),
    Column("last_used_at", UTCDateTime),
    Index("ix_api_tokens_user", "user_id"),
)

web_sessions = Table(
    "web_sessions", metadata,
    Column("id", Id, primary_key=True),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("user_id", ForeignKey("users.id"), nullable=False),
    Column("csrf", String(64), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("last_seen_at", UTCDateTime, nullable=False),
    Index("ix_web_sessions_user", "user_id"),
)

# failed logins of the last minutes: throttling counts them by name and by client address
login_failures = Table(
    "login_failures", metadata,
    Column("id", Id, primary_key=True),
    Column("name", String(64), nullable=False),
    Column("source", String(64), nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Index("ix_login_failures_name_at", "name", "at"),
    Index("ix_login_failures_source_at", "source", "at"),
)

# a spec being written in the browser (migration 0008): the YAML text is what is stored, the editor's
# forms read and rewrite it; `base_campaign` is the running campaign a draft changes (None: a new one)
spec_drafts = Table(
    "spec_drafts", metadata,
    Column("id", Id, primary_key=True),
    Column("author", Text, nullable=False),
    Column("title", Text, nullable=False),
    Column("base_campaign", String(64)),
    Column("text", Text, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Index("ix_spec_drafts_updated", "updated_at"),
)
