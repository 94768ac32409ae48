"""The agents' own tables — conversation memory, workflow runs and followed changes — declared
apart from the code that uses them (sqlalchemy only), so whatever must name them (logout, the
schema check) does not import the agent, the workflow runner or the tokenizer."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from tools.schema import metadata

conversation_messages = sa.Table(
    "conversation_messages", metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    *(sa.Column(name, sa.Text, nullable=False) for name in ("session_id", "slack_id", "role",
                                                            "content")),
    sa.Column("tokens", sa.Integer, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False,
              server_default=sa.text("now()")),
    sa.Index("conversation_session", "session_id", "slack_id", "id"),
)
TS = sa.DateTime(timezone=True)
workflow_runs = sa.Table(
    "workflow_runs", metadata,
    sa.Column("id", sa.Text, primary_key=True),
    *(sa.Column(name, sa.Text, nullable=False) for name in ("workflow", "slack_id", "workspace",
                                                            "namespace", "state")),
    *(sa.Column(name, sa.Text, nullable=False, server_default=sa.text("''"))
      for name in ("session_id", "output")),
    *(sa.Column(name, sa.Text) for name in ("reply_channel", "reply_ts", "workspace_id")),
    sa.Column("inputs", sa.JSON, nullable=False),
    sa.Column("data", sa.JSON, nullable=False),
    sa.Column("waiting_on", postgresql.ARRAY(sa.Text), nullable=False,
              server_default=sa.text("'{}'")),
    sa.Column("created_at", TS, nullable=False, server_default=sa.text("now()")),
    sa.Column("updated_at", TS, nullable=False, server_default=sa.text("now()")),
    sa.Index("workflow_runs_user", "slack_id", "created_at"),
    sa.Index("workflow_runs_waiting", "state", postgresql_where=sa.text("state = 'waiting'")),
)
followups = sa.Table(
    "followups", metadata,
    sa.Column("action_id", sa.Text, primary_key=True),
    *(sa.Column(name, sa.Text, nullable=False) for name in (
        "tool", "kind", "name", "namespace", "requester", "workspace", "workspace_id")),
    sa.Column("state", sa.Text, nullable=False, server_default=sa.text("'following'")),
    sa.Column("outcome", sa.Text, nullable=False, server_default=sa.text("''")),
    sa.Column("before", sa.JSON, nullable=False),
    sa.Column("started_at", TS, nullable=False),
    sa.Column("deadline", TS, nullable=False),
    *(sa.Column(name, TS) for name in ("claimed_until", "finished_at", "told_at")),
    sa.Column("rollback_action", sa.Text),
    sa.Index("followups_open", "deadline", postgresql_where=sa.text("state = 'following'")),
)
