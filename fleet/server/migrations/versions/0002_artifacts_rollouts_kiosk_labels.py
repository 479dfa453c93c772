"""artifacts, rollouts, kiosk labels

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 04:38:16.778709

Signed update artifacts, staged rollouts (stages, per-kiosk state) and kiosk labels
(group, tags) for targeting; server_state keeps the rollout engine's report cursor.
"""
from alembic import op
import sqlalchemy as sa

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('artifacts',
    sa.Column('artifact_id', sa.String(length=32), nullable=False),
    sa.Column('package', sa.String(length=128), nullable=False),
    sa.Column('version', sa.String(length=64), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('size', sa.BigInteger(), nullable=False),
    sa.Column('filename', sa.String(length=200), nullable=False),
    sa.Column('key_id', sa.String(length=32), nullable=False),
    sa.Column('min_from_version', sa.String(length=64), nullable=True),
    sa.Column('manifest', sa.JSON(), nullable=False),
    sa.Column('uploaded_by', sa.String(length=64), nullable=False),
    sa.Column('uploaded_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('deleted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('deleted_by', sa.String(length=64), nullable=True),
    sa.PrimaryKeyConstraint('artifact_id'),
    sa.UniqueConstraint('sha256')
    )
    op.create_table('kiosk_labels',
    sa.Column('kiosk_id', sa.String(length=64), nullable=False),
    sa.Column('group_name', sa.String(length=64), nullable=True),
    sa.Column('tags', sa.JSON(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_by', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('kiosk_id')
    )
    with op.batch_alter_table('kiosk_labels', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_kiosk_labels_group_name'), ['group_name'], unique=False)

    op.create_table('server_state',
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('value', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('key')
    )
    op.create_table('rollouts',
    sa.Column('rollout_id', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('artifact_id', sa.String(length=32), nullable=False),
    sa.Column('version', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=24), nullable=False),
    sa.Column('status_reason', sa.Text(), nullable=False),
    sa.Column('allow_downgrade', sa.Boolean(), nullable=False),
    sa.Column('target', sa.JSON(), nullable=False),
    sa.Column('policy', sa.JSON(), nullable=False),
    sa.Column('created_by', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['artifact_id'], ['artifacts.artifact_id'], ),
    sa.PrimaryKeyConstraint('rollout_id')
    )
    with op.batch_alter_table('rollouts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_rollouts_status'), ['status'], unique=False)

    op.create_table('rollout_kiosks',
    sa.Column('rollout_id', sa.String(length=32), nullable=False),
    sa.Column('kiosk_id', sa.String(length=64), nullable=False),
    sa.Column('stage', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=24), nullable=False),
    sa.Column('reason', sa.String(length=64), nullable=False),
    sa.Column('detail', sa.Text(), nullable=False),
    sa.Column('progress', sa.Float(), nullable=True),
    sa.Column('current_version', sa.String(length=64), nullable=True),
    sa.Column('from_version', sa.String(length=64), nullable=True),
    sa.Column('targeted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('reported_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['rollout_id'], ['rollouts.rollout_id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('rollout_id', 'kiosk_id')
    )
    with op.batch_alter_table('rollout_kiosks', schema=None) as batch_op:
        batch_op.create_index('ix_rollout_kiosks_kiosk', ['kiosk_id'], unique=False)

    op.create_table('rollout_stages',
    sa.Column('rollout_id', sa.String(length=32), nullable=False),
    sa.Column('stage_index', sa.Integer(), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('spec', sa.String(length=16), nullable=False),
    sa.Column('requires_approval', sa.Boolean(), nullable=False),
    sa.Column('success_percent', sa.Float(), nullable=False),
    sa.Column('deadline_s', sa.Float(), nullable=True),
    sa.Column('status', sa.String(length=24), nullable=False),
    sa.Column('approved_by', sa.String(length=64), nullable=True),
    sa.Column('approved_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['rollout_id'], ['rollouts.rollout_id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('rollout_id', 'stage_index')
    )


def downgrade() -> None:
    op.drop_table('rollout_stages')
    with op.batch_alter_table('rollout_kiosks', schema=None) as batch_op:
        batch_op.drop_index('ix_rollout_kiosks_kiosk')

    op.drop_table('rollout_kiosks')
    with op.batch_alter_table('rollouts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_rollouts_status'))

    op.drop_table('rollouts')
    op.drop_table('server_state')
    with op.batch_alter_table('kiosk_labels', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_kiosk_labels_group_name'))

    op.drop_table('kiosk_labels')
    op.drop_table('artifacts')
