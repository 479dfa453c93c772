"""ingest: health stored once per message, latest health by the kiosk's own time

Revision ID: 0008_ingest_dedup
Revises: 0007_service_stats

health_samples.sent_at (the message's `ts`) with a unique index on (kiosk_id, sent_at),
so that a QoS 1 redelivery is not stored twice; kiosks.last_health_sent_at, so that the
latest health is the one the kiosk wrote last, in whatever order the ingest workers
receive them. Rows from before have NULL there (never equal to anything).
"""
from alembic import op
import sqlalchemy as sa

revision = '0008_ingest_dedup'
down_revision = '0007_service_stats'
branch_labels = None
depends_on = None

UTC = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.add_column('health_samples', sa.Column('sent_at', UTC, nullable=True))
    op.create_index('ux_health_kiosk_sent', 'health_samples', ['kiosk_id', 'sent_at'], unique=True)
    op.add_column('kiosks', sa.Column('last_health_sent_at', UTC, nullable=True))


def downgrade() -> None:
    op.drop_column('kiosks', 'last_health_sent_at')
    op.drop_index('ux_health_kiosk_sent', table_name='health_samples')
    op.drop_column('health_samples', 'sent_at')
