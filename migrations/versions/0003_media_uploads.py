"""media uploads

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24 23:56:20.955281

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('media_uploads',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('key', sa.String(length=255), nullable=False),
    sa.Column('uploader_id', sa.Uuid(), nullable=False),
    sa.Column('filename', sa.String(length=255), nullable=False),
    sa.Column('size', sa.BigInteger(), nullable=False),
    sa.Column('mime_type', sa.String(length=127), nullable=False),
    sa.Column('message_type', sa.Enum('text', 'image', 'video', 'audio', 'file', name='upload_message_type', native_enum=False, create_constraint=True, length=16), nullable=False),
    sa.Column('status', sa.Enum('pending', 'ready', name='upload_status', native_enum=False, create_constraint=True, length=16), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['uploader_id'], ['users.id'], name=op.f('fk_media_uploads_uploader_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_media_uploads')),
    sa.UniqueConstraint('key', name=op.f('uq_media_uploads_key'))
    )
    with op.batch_alter_table('media_uploads', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_media_uploads_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_media_uploads_uploader_id'), ['uploader_id'], unique=False)



def downgrade():
    with op.batch_alter_table('media_uploads', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_media_uploads_uploader_id'))
        batch_op.drop_index(batch_op.f('ix_media_uploads_created_at'))

    op.drop_table('media_uploads')
