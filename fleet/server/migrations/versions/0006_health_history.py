"""health history buckets (retention and downsampling)

Revision ID: 0006_health_history
Revises: 0005_security

Hourly and daily health buckets per kiosk, for the whole fleet, and kiosks per app
version (fleet/server/models_history.py), the downsampling job's progress
(rollup_state), and an index on health_samples.received_at (BRIN on PostgreSQL) that
the job reads and deletes by.
"""
from alembic import op
import sqlalchemy as sa

revision = '0006_health_history'
down_revision = '0005_security'
branch_labels = None
depends_on = None

UTC = sa.DateTime(timezone=True)


def figures() -> list[sa.Column]:
    columns = [sa.Column('samples', sa.Integer(), nullable=False)]
    for prefix in ('cpu', 'mem', 'disk', 'temp', 'dev_ok'):
        columns += [sa.Column(f'{prefix}_min', sa.Float(), nullable=True),
                    sa.Column(f'{prefix}_max', sa.Float(), nullable=True),
                    sa.Column(f'{prefix}_sum', sa.Float(), nullable=True),
                    sa.Column(f'{prefix}_n', sa.Integer(), nullable=False)]
    return columns + [sa.Column('dev_total_max', sa.Integer(), nullable=True)]


def upgrade() -> None:
    for name in ('health_hourly', 'health_daily'):
        op.create_table(name,
                        sa.Column('kiosk_id', sa.String(length=64), nullable=False),
                        sa.Column('bucket', UTC, nullable=False),
                        sa.Column('app_version', sa.String(length=64), nullable=False),
                        *figures(),
                        sa.PrimaryKeyConstraint('kiosk_id', 'bucket'))
        op.create_index(f'ix_{name}_bucket', name, ['bucket'], unique=False)
    for name in ('health_fleet_hourly', 'health_fleet_daily'):
        op.create_table(name,
                        sa.Column('bucket', UTC, nullable=False),
                        sa.Column('kiosks', sa.Integer(), nullable=False),
                        *figures(),
                        sa.PrimaryKeyConstraint('bucket'))
    for name in ('health_versions_hourly', 'health_versions_daily'):
        op.create_table(name,
                        sa.Column('bucket', UTC, nullable=False),
                        sa.Column('app_version', sa.String(length=64), nullable=False),
                        sa.Column('kiosks', sa.Integer(), nullable=False),
                        sa.PrimaryKeyConstraint('bucket', 'app_version'))
    op.create_table('rollup_state',
                    sa.Column('name', sa.String(length=64), nullable=False),
                    sa.Column('done_until', UTC, nullable=False),
                    sa.PrimaryKeyConstraint('name'))
    op.create_index('ix_health_at', 'health_samples', ['received_at'], unique=False, postgresql_using='brin')


def downgrade() -> None:
    op.drop_index('ix_health_at', table_name='health_samples', postgresql_using='brin')
    op.drop_table('rollup_state')
    for name in ('health_versions_daily', 'health_versions_hourly', 'health_fleet_daily', 'health_fleet_hourly'):
        op.drop_table(name)
    for name in ('health_daily', 'health_hourly'):
        op.drop_index(f'ix_{name}_bucket', table_name=name)
        op.drop_table(name)
