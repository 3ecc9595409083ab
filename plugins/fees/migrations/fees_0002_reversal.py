"""fees: payment reversal (冲正) — who, when, why on the payment; the reversing entry
of the special account (issue 14 item 16)

Revision ID: fees_0002
Revises: fees_0001
Create Date: 2026-12-08 01:30:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'fees_0002'
down_revision = 'fees_0001'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('fee_payment', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reversed_by', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('reversed_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('reversal_reason', sa.String(length=200), nullable=True))

    op.create_table('fee_fund_reversal',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('income_id', sa.Integer(), nullable=False),
    sa.Column('amount', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('reversed_on', sa.Date(), nullable=False),
    sa.Column('reason', sa.String(length=200), nullable=False),
    sa.Column('recorded_by', sa.String(length=64), nullable=False),
    sa.Column('recorded_at', sa.DateTime(), nullable=False),
    sa.Column('region_path', sa.String(length=120), nullable=False),
    sa.CheckConstraint('amount > 0', name='ck_fee_fund_reversal_positive'),
    sa.ForeignKeyConstraint(['income_id'], ['fee_fund_income.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('income_id')
    )
    with op.batch_alter_table('fee_fund_reversal', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_fee_fund_reversal_reversed_on'), ['reversed_on'], unique=False)
        batch_op.create_index('ix_fee_fund_reversal_scope', ['region_path', 'id'], unique=False, postgresql_ops={'region_path': 'text_pattern_ops'})


def downgrade():
    with op.batch_alter_table('fee_fund_reversal', schema=None) as batch_op:
        batch_op.drop_index('ix_fee_fund_reversal_scope', postgresql_ops={'region_path': 'text_pattern_ops'})
        batch_op.drop_index(batch_op.f('ix_fee_fund_reversal_reversed_on'))

    op.drop_table('fee_fund_reversal')
    with op.batch_alter_table('fee_payment', schema=None) as batch_op:
        batch_op.drop_column('reversal_reason')
        batch_op.drop_column('reversed_at')
        batch_op.drop_column('reversed_by')
