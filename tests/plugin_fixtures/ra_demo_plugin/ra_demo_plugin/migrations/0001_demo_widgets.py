"""demo_widgets: its one table, on its own branch.

Revision ID: demo_widgets_0001
Revises:
"""
import sqlalchemy as sa
from alembic import op

revision = "demo_widgets_0001"
down_revision = None
branch_labels = ("demo_widgets",)
depends_on = "0001_core"


def upgrade():
    op.create_table(
        "test_demo_widget_note",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("text", sa.String(length=200), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )


def downgrade():
    op.drop_table("test_demo_widget_note")
