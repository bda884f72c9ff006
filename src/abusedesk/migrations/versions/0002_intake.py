"""intake: correspondence on cases (replies to notices, reporters' follow-ups)

Revision ID: 0002_intake
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import abusedesk.db

revision = "0002_intake"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "correspondence",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("raw_id", sa.Integer(), nullable=False),
        sa.Column("direction", sa.String(length=10), nullable=False),
        sa.Column("party", sa.String(length=20), nullable=False),
        sa.Column("matched_by", sa.String(length=20), nullable=False),
        sa.Column("sender", sa.String(length=320), nullable=True),
        sa.Column("subject", sa.String(length=998), nullable=False),
        sa.Column("message_id", sa.String(length=300), nullable=True),
        sa.Column("in_reply_to_outbound_id", sa.Integer(), nullable=True),
        sa.Column("auto_submitted", sa.Boolean(), nullable=False),
        sa.Column("body_text", sa.Text(), nullable=False),
        sa.Column("received_at", abusedesk.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_correspondence_case_id_cases")),
        sa.ForeignKeyConstraint(["raw_id"], ["raw_inputs.id"], name=op.f("fk_correspondence_raw_id_raw_inputs")),
        sa.ForeignKeyConstraint(
            ["in_reply_to_outbound_id"], ["outbound_messages.id"],
            name=op.f("fk_correspondence_in_reply_to_outbound_id_outbound_messages"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_correspondence")),
    )
    with op.batch_alter_table("correspondence", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_correspondence_raw_id"), ["raw_id"], unique=False)
        batch_op.create_index("ix_correspondence_case_received", ["case_id", "received_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("correspondence", schema=None) as batch_op:
        batch_op.drop_index("ix_correspondence_case_received")
        batch_op.drop_index(batch_op.f("ix_correspondence_raw_id"))
    op.drop_table("correspondence")
