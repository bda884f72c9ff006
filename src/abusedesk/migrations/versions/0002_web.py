"""web: users, notes, correspondence, appeals; queue indexes on cases

Revision ID: 0002_web
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import abusedesk.db

revision = "0002_web"
down_revision = "0001"
branch_labels = None
depends_on = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
_TS = abusedesk.db.UTCDateTime(timezone=True)
SEVERITY_RANK_SQL = "(CASE severity WHEN 'critical' THEN 4 WHEN 'high' THEN 3 WHEN 'medium' THEN 2 WHEN 'low' THEN 1 ELSE 0 END)"
ASSIGNEE_SORT_SQL = "(COALESCE(assignee, ''))"

_CASE_INDEXES: list[tuple[str, list[str | sa.TextClause]]] = [
    ("ix_cases_opened_at_id", ["opened_at", "id"]),
    ("ix_cases_updated_at_id", ["updated_at", "id"]),
    ("ix_cases_last_seen_id", ["last_seen", "id"]),
    ("ix_cases_first_seen_id", ["first_seen", "id"]),
    ("ix_cases_report_count_id", ["report_count", "id"]),
    ("ix_cases_reporter_count_id", ["reporter_count", "id"]),
    ("ix_cases_category_id", ["category", "id"]),
    ("ix_cases_account_id_id", ["account_id", "id"]),
    ("ix_cases_resource_key_id", ["resource_key", "id"]),
    ("ix_cases_severity_rank_id", [sa.text(SEVERITY_RANK_SQL), "id"]),
    ("ix_cases_assignee_sort_id", [sa.text(ASSIGNEE_SORT_SQL), "id"]),
    ("ix_cases_status_last_seen_id", ["status", "last_seen", "id"]),
    ("ix_cases_assignee_id", ["assignee", "id"]),
]


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=128), nullable=False),
        sa.Column("display_name", sa.String(length=200), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("password_hash", sa.String(length=200), nullable=True),
        sa.Column("account_id", sa.String(length=128), nullable=True),
        sa.Column("oidc_subject", sa.String(length=300), nullable=True),
        sa.Column("session_version", sa.Integer(), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("disabled_at", _TS, nullable=True),
        sa.Column("last_login_at", _TS, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("username", name=op.f("uq_users_username")),
        sa.UniqueConstraint("oidc_subject", name=op.f("uq_users_oidc_subject")),
    )
    op.create_table(
        "case_notes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("author", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_case_notes_case_id_cases")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_notes")),
    )
    op.create_index(op.f("ix_case_notes_case_id"), "case_notes", ["case_id"], unique=False)
    op.create_table(
        "case_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.String(length=128), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("author", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("evidence_sha256", sa.String(length=64), nullable=True),
        sa.Column("evidence_filename", sa.String(length=300), nullable=True),
        sa.Column("created_at", _TS, nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_case_messages_case_id_cases")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_messages")),
    )
    op.create_index("ix_case_messages_case_created", "case_messages", ["case_id", "created_at"], unique=False)
    op.create_table(
        "portal_appeals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.String(length=128), nullable=False),
        sa.Column("decision_ref", sa.String(length=100), nullable=False),
        sa.Column("grounds", sa.Text(), nullable=False),
        sa.Column("submitted_at", _TS, nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("decided_by", sa.String(length=200), nullable=True),
        sa.Column("decided_at", _TS, nullable=True),
        sa.Column("outcome", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_portal_appeals_case_id_cases")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_portal_appeals")),
    )
    op.create_index(op.f("ix_portal_appeals_case_id"), "portal_appeals", ["case_id"], unique=False)
    op.create_index(op.f("ix_portal_appeals_account_id"), "portal_appeals", ["account_id"], unique=False)
    for name, columns in _CASE_INDEXES:
        op.create_index(name, "cases", columns, unique=False)


def downgrade() -> None:
    for name, _columns in reversed(_CASE_INDEXES):
        op.drop_index(name, table_name="cases")
    for table in ("portal_appeals", "case_messages", "case_notes", "users"):
        op.drop_table(table)
