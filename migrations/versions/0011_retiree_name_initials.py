"""retiree name initials recomputed for search (issue 14 item 9)

The navbar's search box finds a person by the pinyin initials of the name
(``retiree.name_initials``, indexed since 0001 and kept by the service on create,
update and import). Rows written before that, or by a loader that left the column
empty, are filled here, in batches, and only where the stored value differs.

Revision ID: 0011_retiree_name_initials
Revises: 0010_audit_anchor_sessions
Create Date: 2026-12-08 01:45:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0011_retiree_name_initials'
down_revision = '0010_audit_anchor_sessions'
branch_labels = None
depends_on = None

BATCH = 5000
retiree = sa.table("retiree", sa.column("id", sa.Integer), sa.column("name", sa.String),
                   sa.column("name_initials", sa.String))


def upgrade():
    from core.registry.validators import name_initials

    bind = op.get_bind()
    change = (retiree.update().where(retiree.c.id == sa.bindparam("row_id"))
              .values(name_initials=sa.bindparam("initials")))
    last = 0
    while True:
        rows = bind.execute(sa.select(retiree.c.id, retiree.c.name, retiree.c.name_initials)
                            .where(retiree.c.id > last).order_by(retiree.c.id)
                            .limit(BATCH)).all()
        if not rows:
            break
        changed = [{"row_id": r.id, "initials": name_initials(r.name)} for r in rows
                   if name_initials(r.name) != r.name_initials]
        if changed:
            bind.execute(change, changed)
        last = rows[-1].id


def downgrade():
    """The initials stay: they are derived from the name and harm nothing."""
