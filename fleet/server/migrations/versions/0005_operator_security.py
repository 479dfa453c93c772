"""operator security: revocable sessions, API tokens, login throttle

Revision ID: 0005_security
Revises: 0004_console_kiosks

login_sessions get a public id (for listing and revoking), last use, client address and
revocation; api_tokens are role-scoped, expiring, hashed tokens; login_throttle keeps
failed-login counters and lockouts in the database (shared by server processes).
"""
import secrets

from alembic import op
import sqlalchemy as sa

revision = '0005_security'
down_revision = '0004_console_kiosks'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('login_sessions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('session_id', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('last_used_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('source', sa.String(length=64), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('revoked_by', sa.String(length=64), nullable=True))
    bind = op.get_bind()
    for (digest,) in bind.execute(sa.text("SELECT token_sha256 FROM login_sessions")).fetchall():
        bind.execute(sa.text("UPDATE login_sessions SET session_id = :i WHERE token_sha256 = :d"),
                     {"i": secrets.token_hex(8), "d": digest})
    with op.batch_alter_table('login_sessions', schema=None) as batch_op:
        batch_op.alter_column('session_id', existing_type=sa.String(length=16), nullable=False)
        batch_op.alter_column('source', existing_type=sa.String(length=64), server_default=None)
        batch_op.create_unique_constraint('uq_login_sessions_session_id', ['session_id'])
        batch_op.create_index('ix_login_sessions_user', ['username'], unique=False)

    op.create_table('api_tokens',
    sa.Column('token_id', sa.String(length=16), nullable=False),
    sa.Column('token_sha256', sa.String(length=64), nullable=False),
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_used_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revoked_by', sa.String(length=64), nullable=True),
    sa.ForeignKeyConstraint(['username'], ['operators.username'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('token_id'),
    sa.UniqueConstraint('token_sha256')
    )
    op.create_index('ix_api_tokens_user', 'api_tokens', ['username'], unique=False)
    op.create_table('login_throttle',
    sa.Column('key', sa.String(length=200), nullable=False),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('window_start', sa.DateTime(timezone=True), nullable=False),
    sa.Column('locked_until', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('key')
    )


def downgrade() -> None:
    op.drop_table('login_throttle')
    op.drop_index('ix_api_tokens_user', table_name='api_tokens')
    op.drop_table('api_tokens')
    with op.batch_alter_table('login_sessions', schema=None) as batch_op:
        batch_op.drop_index('ix_login_sessions_user')
        batch_op.drop_constraint('uq_login_sessions_session_id', type_='unique')
        batch_op.drop_column('revoked_by')
        batch_op.drop_column('revoked_at')
        batch_op.drop_column('source')
        batch_op.drop_column('last_used_at')
        batch_op.drop_column('session_id')
