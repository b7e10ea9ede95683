"""message change feed: chat_messages.change_seq and chat_rooms.last_message_seq

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 23:30:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade():
    # Added nullable, backfilled, then made NOT NULL: works on SQLite (batch) and PostgreSQL alike.
    with op.batch_alter_table('chat_messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('change_seq', sa.BigInteger(), nullable=True))
    op.execute('UPDATE chat_messages SET change_seq = seq')
    with op.batch_alter_table('chat_messages', schema=None) as batch_op:
        batch_op.alter_column('change_seq', existing_type=sa.BigInteger(), nullable=False)
        batch_op.create_index('ix_chat_messages_room_id_change_seq', ['room_id', 'change_seq'], unique=False)

    with op.batch_alter_table('chat_rooms', schema=None) as batch_op:
        batch_op.add_column(sa.Column('last_message_seq', sa.BigInteger(), nullable=True))
    op.execute('UPDATE chat_rooms SET last_message_seq = last_seq')
    with op.batch_alter_table('chat_rooms', schema=None) as batch_op:
        batch_op.alter_column('last_message_seq', existing_type=sa.BigInteger(), nullable=False)


def downgrade():
    # Before 0002 last_seq was the newest message's seq, which last_message joined on.
    op.execute('UPDATE chat_rooms SET last_seq = last_message_seq')
    with op.batch_alter_table('chat_rooms', schema=None) as batch_op:
        batch_op.drop_column('last_message_seq')
    with op.batch_alter_table('chat_messages', schema=None) as batch_op:
        batch_op.drop_index('ix_chat_messages_room_id_change_seq')
        batch_op.drop_column('change_seq')
