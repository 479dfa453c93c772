"""console kiosk list: sites, saved views, indexes

Revision ID: 0004_console_kiosks
Revises: 0003

Where each kiosk stands (name, hall, district, region) and each operator's saved views
of the kiosk list, plus the indexes the list's filters and the configuration history use.
"""
from alembic import op
import sqlalchemy as sa

revision = '0004_console_kiosks'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('kiosk_sites',
    sa.Column('kiosk_id', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=128), nullable=False),
    sa.Column('hall', sa.String(length=128), nullable=False),
    sa.Column('district', sa.String(length=64), nullable=False),
    sa.Column('region', sa.String(length=64), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_by', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('kiosk_id')
    )
    op.create_index('ix_kiosk_sites_region_district', 'kiosk_sites', ['region', 'district'], unique=False)
    op.create_index('ix_kiosk_sites_hall', 'kiosk_sites', ['hall'], unique=False)
    op.create_table('saved_views',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('operator', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('query', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['operator'], ['operators.username'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('uq_saved_view', 'saved_views', ['operator', 'name'], unique=True)
    op.create_index('ix_kiosks_version', 'kiosks', ['app_version'], unique=False)
    op.create_index('ix_alerts_cleared', 'alerts', ['cleared_at', 'kiosk_id'], unique=False)
    op.create_index('ix_audit_target', 'audit_log', ['target', 'action', 'at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_audit_target', table_name='audit_log')
    op.drop_index('ix_alerts_cleared', table_name='alerts')
    op.drop_index('ix_kiosks_version', table_name='kiosks')
    op.drop_index('uq_saved_view', table_name='saved_views')
    op.drop_table('saved_views')
    op.drop_index('ix_kiosk_sites_hall', table_name='kiosk_sites')
    op.drop_index('ix_kiosk_sites_region_district', table_name='kiosk_sites')
    op.drop_table('kiosk_sites')
