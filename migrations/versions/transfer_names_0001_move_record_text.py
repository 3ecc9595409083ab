"""The move record keeps the person's name and number and both communities' full names
as text (issue 14 item 1), backfilled for existing moves

The sender of a move no longer sees the person nor the receiving community; the text
copied on the move row lets it read its own move records. A branch of its own (like
idempotency_0001), so that it merges with other new core revisions without a second
head on the core branch.

Revision ID: transfer_names_0001
Revises:
Create Date: 2026-12-08 01:30:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'transfer_names_0001'
down_revision = None
branch_labels = ('transfer_names',)
depends_on = ('0001_core',)

OUT_OF_AREA = '统筹范围以外（居外人员）'


def _full_names(conn) -> dict:
    """Every region's name below the city, from the district down (Region.full_name)."""
    rows = {r.id: r for r in conn.execute(sa.text('select id, name, level, parent_id from region'))}
    names = {}
    for rid in rows:
        parts, node = [], rows.get(rid)
        while node is not None and node.level != 'city':
            parts.append(node.name)
            node = rows.get(node.parent_id)
        names[rid] = ''.join(reversed(parts)) or rows[rid].name
    return names


def upgrade():
    with op.batch_alter_table('retiree_transfer', schema=None) as batch_op:
        batch_op.add_column(sa.Column('retiree_name', sa.String(length=50), nullable=True))
        batch_op.add_column(sa.Column('personal_no', sa.String(length=8), nullable=True))
        batch_op.add_column(sa.Column('from_community_name', sa.String(length=300), nullable=True))
        batch_op.add_column(sa.Column('to_community_name', sa.String(length=300), nullable=True))
    conn = op.get_bind()
    names = _full_names(conn)
    moves = conn.execute(sa.text(
        'select t.id, t.from_community_id, t.to_community_id, r.name, r.personal_no '
        'from retiree_transfer t join retiree r on r.id = t.retiree_id')).all()
    update = sa.text(
        'update retiree_transfer set retiree_name = :name, personal_no = :no, '
        'from_community_name = :from_name, to_community_name = :to_name where id = :id')
    for move in moves:
        conn.execute(update, {
            'id': move.id, 'name': move.name, 'no': move.personal_no,
            'from_name': names.get(move.from_community_id, OUT_OF_AREA),
            'to_name': names.get(move.to_community_id, OUT_OF_AREA)})


def downgrade():
    with op.batch_alter_table('retiree_transfer', schema=None) as batch_op:
        batch_op.drop_column('to_community_name')
        batch_op.drop_column('from_community_name')
        batch_op.drop_column('personal_no')
        batch_op.drop_column('retiree_name')
