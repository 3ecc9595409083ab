"""audit anchor, revocable sessions, TOTP at rest, password history (issue #12, 13–16)

The head of the audit chain only moves forward and its base only past entries older
than 180 days; an entry may be deleted only once it lies before the base (so a purge
needs no DDL and the application's database role needs no right to drop triggers);
signed checkpoints are append-only. Users get a session epoch, the last accepted TOTP
step and the pending TOTP secret; TOTP secrets are encrypted (Fernet); the last
passwords' hashes are kept.

Revision ID: 0010_audit_anchor_sessions
Revises: 0002_security
Create Date: 2026-12-07 22:20:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0010_audit_anchor_sessions'
down_revision = '0002_security'
branch_labels = None
depends_on = None

APPEND_ONLY = "'audit is append-only'"
# SQLite: the conditions as WHEN clauses; ``at`` is naive local time.
SQLITE_HEAD_REFUSED = (
    "NEW.id <> OLD.id OR NEW.seq < OLD.seq OR NEW.base_seq < OLD.base_seq "
    "OR NEW.base_seq > NEW.seq + 1 "
    "OR (NEW.seq = OLD.seq AND NEW.last_hash <> OLD.last_hash) "
    "OR (NEW.base_seq = OLD.base_seq AND NEW.base_hash <> OLD.base_hash) "
    "OR (NEW.base_seq > OLD.base_seq AND EXISTS (SELECT 1 FROM audit_entry "
    "WHERE seq < NEW.base_seq AND at >= datetime('now', 'localtime', '-180 days')))")
PG_HEAD_REFUSED = SQLITE_HEAD_REFUSED.replace(
    "datetime('now', 'localtime', '-180 days')", "localtimestamp - interval '180 days'")
TRIGGERS = {
    False: [
        "DROP TRIGGER IF EXISTS audit_entry_no_delete",
        "CREATE TRIGGER audit_entry_no_delete BEFORE DELETE ON audit_entry "
        "WHEN OLD.seq >= COALESCE((SELECT base_seq FROM audit_head WHERE id = 1), 1) "
        f"BEGIN SELECT RAISE(ABORT, {APPEND_ONLY}); END",
        "CREATE TRIGGER audit_head_forward_only BEFORE UPDATE ON audit_head "
        f"WHEN {SQLITE_HEAD_REFUSED} BEGIN SELECT RAISE(ABORT, {APPEND_ONLY}); END",
        "CREATE TRIGGER audit_head_no_delete BEFORE DELETE ON audit_head "
        f"BEGIN SELECT RAISE(ABORT, {APPEND_ONLY}); END",
        "CREATE TRIGGER audit_head_single_row BEFORE INSERT ON audit_head "
        f"WHEN EXISTS (SELECT 1 FROM audit_head) BEGIN SELECT RAISE(ABORT, {APPEND_ONLY}); END",
        "CREATE TRIGGER audit_checkpoint_no_update BEFORE UPDATE ON audit_checkpoint "
        f"BEGIN SELECT RAISE(ABORT, {APPEND_ONLY}); END",
        "CREATE TRIGGER audit_checkpoint_no_delete BEFORE DELETE ON audit_checkpoint "
        f"BEGIN SELECT RAISE(ABORT, {APPEND_ONLY}); END",
    ],
    True: [
        "DROP TRIGGER IF EXISTS audit_entry_no_delete ON audit_entry",
        "CREATE OR REPLACE FUNCTION audit_entry_delete_guard() RETURNS trigger AS $$ "
        "BEGIN IF OLD.seq >= COALESCE((SELECT base_seq FROM audit_head WHERE id = 1), 1) "
        f"THEN RAISE EXCEPTION {APPEND_ONLY}; END IF; RETURN OLD; END; $$ LANGUAGE plpgsql",
        "CREATE TRIGGER audit_entry_no_delete BEFORE DELETE ON audit_entry "
        "FOR EACH ROW EXECUTE FUNCTION audit_entry_delete_guard()",
        "CREATE OR REPLACE FUNCTION audit_head_guard() RETURNS trigger AS $$ BEGIN "
        f"IF TG_OP = 'DELETE' THEN RAISE EXCEPTION {APPEND_ONLY}; END IF; "
        "IF TG_OP = 'INSERT' THEN IF EXISTS (SELECT 1 FROM audit_head) "
        f"THEN RAISE EXCEPTION {APPEND_ONLY}; END IF; RETURN NEW; END IF; "
        f"IF {PG_HEAD_REFUSED} THEN RAISE EXCEPTION {APPEND_ONLY}; END IF; "
        "RETURN NEW; END; $$ LANGUAGE plpgsql",
        "CREATE TRIGGER audit_head_guard BEFORE INSERT OR UPDATE OR DELETE ON audit_head "
        "FOR EACH ROW EXECUTE FUNCTION audit_head_guard()",
        "CREATE TRIGGER audit_checkpoint_no_update BEFORE UPDATE OR DELETE ON audit_checkpoint "
        "FOR EACH ROW EXECUTE FUNCTION audit_entry_append_only()",
    ],
}
DROP_TRIGGERS = {
    False: ["DROP TRIGGER IF EXISTS audit_entry_no_delete",
            "CREATE TRIGGER audit_entry_no_delete BEFORE DELETE ON audit_entry "
            f"BEGIN SELECT RAISE(ABORT, {APPEND_ONLY}); END",
            "DROP TRIGGER IF EXISTS audit_head_forward_only",
            "DROP TRIGGER IF EXISTS audit_head_no_delete",
            "DROP TRIGGER IF EXISTS audit_head_single_row"],
    True: ["DROP TRIGGER IF EXISTS audit_entry_no_delete ON audit_entry",
           "CREATE TRIGGER audit_entry_no_delete BEFORE DELETE ON audit_entry "
           "FOR EACH ROW EXECUTE FUNCTION audit_entry_append_only()",
           "DROP FUNCTION IF EXISTS audit_entry_delete_guard()",
           "DROP TRIGGER IF EXISTS audit_head_guard ON audit_head",
           "DROP FUNCTION IF EXISTS audit_head_guard()"],
}
USERS = sa.table('ab_user', sa.column('id', sa.Integer), sa.column('totp_secret', sa.String))


def _recode_totp_secrets(convert):
    """Existing TOTP secrets, in clear before this revision, are encrypted (and back)."""
    from flask import current_app

    bind = op.get_bind()
    rows = bind.execute(sa.select(USERS.c.id, USERS.c.totp_secret)
                        .where(USERS.c.totp_secret.isnot(None))).all()
    for user_id, secret in rows:
        bind.execute(USERS.update().where(USERS.c.id == user_id)
                     .values(totp_secret=convert(secret, current_app.config)))


def upgrade():
    from core.auth.secrets import encrypt

    op.create_table('audit_checkpoint',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('last_hash', sa.String(length=64), nullable=False),
    sa.Column('base_seq', sa.Integer(), nullable=False),
    sa.Column('base_hash', sa.String(length=64), nullable=False),
    sa.Column('signature', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('password_history',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('password', sa.String(length=256), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['ab_user.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('password_history', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_password_history_user_id'), ['user_id'], unique=False)

    with op.batch_alter_table('ab_user', schema=None) as batch_op:
        batch_op.add_column(sa.Column('totp_pending', sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column('totp_last_step', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('session_epoch', sa.Integer(), server_default='0', nullable=False))
        batch_op.alter_column('totp_secret', existing_type=sa.String(length=64),
                              type_=sa.String(length=255), existing_nullable=True)
    _recode_totp_secrets(encrypt)
    for statement in TRIGGERS[op.get_bind().dialect.name == 'postgresql']:
        op.execute(sa.text(statement))


def downgrade():
    from core.auth.secrets import decrypt

    for statement in DROP_TRIGGERS[op.get_bind().dialect.name == 'postgresql']:
        op.execute(sa.text(statement))
    _recode_totp_secrets(decrypt)
    with op.batch_alter_table('ab_user', schema=None) as batch_op:
        batch_op.alter_column('totp_secret', existing_type=sa.String(length=255),
                              type_=sa.String(length=64), existing_nullable=True)
        batch_op.drop_column('session_epoch')
        batch_op.drop_column('totp_last_step')
        batch_op.drop_column('totp_pending')
    with op.batch_alter_table('password_history', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_password_history_user_id'))
    op.drop_table('password_history')
    op.drop_table('audit_checkpoint')
