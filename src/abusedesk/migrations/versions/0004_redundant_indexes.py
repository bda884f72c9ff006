"""drop indexes that are prefixes of others: every ingested report paid for them

``ix_cases_account_id`` and ``ix_cases_category`` lead ``ix_cases_account_id_id`` and
``ix_cases_category_id``; ``ix_case_reporters_case_id`` leads the unique (case_id,
reporter) constraint's index. Queries keep using the longer indexes.

Revision ID: 0004_redundant_indexes
Revises: 0002_intake, 0002_web, 0003_enforcement_legal_ground
Create Date: 2026-11-26 12:40:00
"""

from __future__ import annotations

from alembic import op

revision = "0004_redundant_indexes"
down_revision = ("0002_intake", "0002_web", "0003_enforcement_legal_ground")
branch_labels = None
depends_on = None

DROPPED = (
    ("ix_cases_account_id", "cases", ["account_id"]),
    ("ix_cases_category", "cases", ["category"]),
    ("ix_case_reporters_case_id", "case_reporters", ["case_id"]),
)


def upgrade() -> None:
    for name, table, _ in DROPPED:
        op.drop_index(name, table_name=table)


def downgrade() -> None:
    for name, table, columns in DROPPED:
        op.create_index(name, table, columns)
