"""enforcement: the law relied on in decision records (DSA Art. 17(3)(d))

Revision ID: 0003_enforcement_legal_ground
Revises: 0002_enforcement
Create Date: 2026-11-26 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_enforcement_legal_ground"
down_revision = "0002_enforcement"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("decision_records", schema=None) as batch_op:
        batch_op.add_column(sa.Column("legal_ground", sa.String(length=500), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("decision_records", schema=None) as batch_op:
        batch_op.drop_column("legal_ground")
