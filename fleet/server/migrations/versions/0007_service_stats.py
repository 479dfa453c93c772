"""service statistics: daily (and, once downsampled, monthly) aggregates of flow events

Revision ID: 0007_service_stats
Revises: 0006_health_history

Sessions, completions, aborts and a duration histogram per (period, day, kiosk, service);
where unfinished sessions ended (step, reason); device faults per (period, day, kiosk,
device). Filled by fleet.server.stats from the events table; counts only, no personal data.
"""
from alembic import op
import sqlalchemy as sa

revision = '0007_service_stats'
down_revision = '0006_health_history'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('service_daily',
    sa.Column('period', sa.String(length=8), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('kiosk_id', sa.String(length=64), nullable=False),
    sa.Column('flow', sa.String(length=64), nullable=False),
    sa.Column('sessions', sa.Integer(), nullable=False),
    sa.Column('completed', sa.Integer(), nullable=False),
    sa.Column('aborted', sa.Integer(), nullable=False),
    sa.Column('duration_n', sa.Integer(), nullable=False),
    sa.Column('duration_sum_s', sa.Float(), nullable=False),
    sa.Column('d00', sa.Integer(), nullable=False),
    sa.Column('d01', sa.Integer(), nullable=False),
    sa.Column('d02', sa.Integer(), nullable=False),
    sa.Column('d03', sa.Integer(), nullable=False),
    sa.Column('d04', sa.Integer(), nullable=False),
    sa.Column('d05', sa.Integer(), nullable=False),
    sa.Column('d06', sa.Integer(), nullable=False),
    sa.Column('d07', sa.Integer(), nullable=False),
    sa.Column('d08', sa.Integer(), nullable=False),
    sa.Column('d09', sa.Integer(), nullable=False),
    sa.Column('d10', sa.Integer(), nullable=False),
    sa.Column('d11', sa.Integer(), nullable=False),
    sa.Column('d12', sa.Integer(), nullable=False),
    sa.Column('d13', sa.Integer(), nullable=False),
    sa.Column('d14', sa.Integer(), nullable=False),
    sa.Column('d15', sa.Integer(), nullable=False),
    sa.Column('d16', sa.Integer(), nullable=False),
    sa.Column('d17', sa.Integer(), nullable=False),
    sa.Column('d18', sa.Integer(), nullable=False),
    sa.Column('d19', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('period', 'day', 'kiosk_id', 'flow')
    )
    op.create_index('ix_service_daily_day', 'service_daily', ['period', 'day', 'flow', 'sessions'], unique=False)
    op.create_index('ix_service_daily_kiosk', 'service_daily',
                    ['period', 'day', 'kiosk_id', 'sessions', 'completed', 'aborted'], unique=False)
    op.create_table('service_abandon_daily',
    sa.Column('period', sa.String(length=8), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('kiosk_id', sa.String(length=64), nullable=False),
    sa.Column('flow', sa.String(length=64), nullable=False),
    sa.Column('step', sa.String(length=64), nullable=False),
    sa.Column('reason', sa.String(length=64), nullable=False),
    sa.Column('step_no', sa.Integer(), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('period', 'day', 'kiosk_id', 'flow', 'step', 'reason')
    )
    op.create_index('ix_service_abandon_day', 'service_abandon_daily', ['period', 'day', 'flow'], unique=False)
    op.create_table('device_fault_daily',
    sa.Column('period', sa.String(length=8), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('kiosk_id', sa.String(length=64), nullable=False),
    sa.Column('device', sa.String(length=32), nullable=False),
    sa.Column('faults', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('period', 'day', 'kiosk_id', 'device')
    )
    op.create_index('ix_device_fault_day', 'device_fault_daily', ['period', 'day'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_device_fault_day', table_name='device_fault_daily')
    op.drop_table('device_fault_daily')
    op.drop_index('ix_service_abandon_day', table_name='service_abandon_daily')
    op.drop_table('service_abandon_daily')
    op.drop_index('ix_service_daily_kiosk', table_name='service_daily')
    op.drop_index('ix_service_daily_day', table_name='service_daily')
    op.drop_table('service_daily')
