"""message features: reactions, threads, pins, mentions, edit history

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05 21:34:28

Threads are one level deep and pins at most 100 per room in the database too: a reply's foreign key names its
root's thread_level, which a CHECK holds at 0, and pins take one of 100 slots, unique per room.

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('message_edits',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('message_id', sa.Uuid(), nullable=False),
    sa.Column('content', sa.Text(), nullable=False),
    sa.Column('edited_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['message_id'], ['chat_messages.id'], name=op.f('fk_message_edits_message_id_chat_messages')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_message_edits'))
    )
    with op.batch_alter_table('message_edits', schema=None) as batch_op:
        batch_op.create_index('ix_message_edits_message_id_edited_at', ['message_id', 'edited_at'], unique=False)

    op.create_table('message_mentions',
    sa.Column('message_id', sa.Uuid(), nullable=False),
    sa.Column('user_id', sa.Uuid(), nullable=False),
    sa.Column('room_id', sa.Uuid(), nullable=False),
    sa.Column('seq', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['message_id'], ['chat_messages.id'], name=op.f('fk_message_mentions_message_id_chat_messages')),
    sa.ForeignKeyConstraint(['room_id'], ['chat_rooms.id'], name=op.f('fk_message_mentions_room_id_chat_rooms')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_message_mentions_user_id_users')),
    sa.PrimaryKeyConstraint('message_id', 'user_id', name=op.f('pk_message_mentions'))
    )
    with op.batch_alter_table('message_mentions', schema=None) as batch_op:
        batch_op.create_index('ix_message_mentions_user_id_room_id_seq', ['user_id', 'room_id', 'seq'], unique=False)

    op.create_table('message_reactions',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('message_id', sa.Uuid(), nullable=False),
    sa.Column('user_id', sa.Uuid(), nullable=False),
    sa.Column('emoji', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['message_id'], ['chat_messages.id'], name=op.f('fk_message_reactions_message_id_chat_messages')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_message_reactions_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_message_reactions')),
    sa.UniqueConstraint('message_id', 'emoji', 'user_id', name=op.f('uq_message_reactions_message_id_emoji_user_id'))
    )
    with op.batch_alter_table('message_reactions', schema=None) as batch_op:
        batch_op.create_index('ix_message_reactions_message_id_emoji_created_at', ['message_id', 'emoji', 'created_at'], unique=False)

    op.create_table('thread_follows',
    sa.Column('root_id', sa.Uuid(), nullable=False),
    sa.Column('user_id', sa.Uuid(), nullable=False),
    sa.Column('room_id', sa.Uuid(), nullable=False),
    sa.Column('following', sa.Boolean(), nullable=False),
    sa.Column('last_read_seq', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['room_id'], ['chat_rooms.id'], name=op.f('fk_thread_follows_room_id_chat_rooms')),
    sa.ForeignKeyConstraint(['root_id'], ['chat_messages.id'], name=op.f('fk_thread_follows_root_id_chat_messages')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_thread_follows_user_id_users')),
    sa.PrimaryKeyConstraint('root_id', 'user_id', name=op.f('pk_thread_follows'))
    )
    with op.batch_alter_table('thread_follows', schema=None) as batch_op:
        batch_op.create_index('ix_thread_follows_user_id_following', ['user_id', 'following'], unique=False)

    with op.batch_alter_table('chat_messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('thread_root_id', sa.Uuid(), nullable=True))
        batch_op.add_column(sa.Column('thread_level', sa.SmallInteger(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('root_thread_level', sa.SmallInteger(), nullable=True))
        batch_op.add_column(sa.Column('thread_reply_count', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('thread_last_reply_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('thread_participant_ids', sa.JSON(), nullable=False, server_default='[]'))
        batch_op.add_column(sa.Column('reaction_summary', sa.JSON(), nullable=False, server_default='[]'))
        batch_op.add_column(sa.Column('mention_ids', sa.JSON(), nullable=False, server_default='[]'))
        batch_op.add_column(sa.Column('mentions_room', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column('pinned_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('pinned_by', sa.Uuid(), nullable=True))
        batch_op.add_column(sa.Column('pin_slot', sa.SmallInteger(), nullable=True))
        batch_op.create_index('ix_chat_messages_room_id_pinned_at', ['room_id', 'pinned_at'], unique=False)
        batch_op.create_index('ix_chat_messages_thread_root_id_seq', ['thread_root_id', 'seq'], unique=False)
        batch_op.create_index(
            'ix_chat_messages_room_id_seq_top_level', ['room_id', 'seq'], unique=False,
            postgresql_where=sa.text('thread_root_id IS NULL'), sqlite_where=sa.text('thread_root_id IS NULL'),
        )
        batch_op.create_unique_constraint(batch_op.f('uq_chat_messages_id_room_id_thread_level'), ['id', 'room_id', 'thread_level'])
        batch_op.create_unique_constraint(batch_op.f('uq_chat_messages_room_id_pin_slot'), ['room_id', 'pin_slot'])
        batch_op.create_foreign_key(batch_op.f('fk_chat_messages_pinned_by_users'), 'users', ['pinned_by'], ['id'])
        batch_op.create_check_constraint(
            'thread_one_level',
            '(thread_root_id IS NULL AND thread_level = 0 AND root_thread_level IS NULL)'
            ' OR (thread_root_id IS NOT NULL AND thread_level = 1 AND root_thread_level = 0)',
        )
        batch_op.create_check_constraint('pin_slot_range', 'pin_slot >= 0 AND pin_slot < 100')
        batch_op.create_foreign_key('fk_chat_messages_thread_root', 'chat_messages', ['thread_root_id', 'room_id', 'root_thread_level'], ['id', 'room_id', 'thread_level'])

    # The defaults were for the rows already there; the application writes every column itself.
    with op.batch_alter_table('chat_messages', schema=None) as batch_op:
        for name in ('thread_level', 'thread_reply_count', 'thread_participant_ids', 'reaction_summary', 'mention_ids', 'mentions_room'):
            batch_op.alter_column(name, server_default=None)


def downgrade():
    with op.batch_alter_table('chat_messages', schema=None) as batch_op:
        batch_op.drop_constraint('fk_chat_messages_thread_root', type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('ck_chat_messages_pin_slot_range'), type_='check')
        batch_op.drop_constraint(batch_op.f('ck_chat_messages_thread_one_level'), type_='check')
        batch_op.drop_constraint(batch_op.f('fk_chat_messages_pinned_by_users'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('uq_chat_messages_room_id_pin_slot'), type_='unique')
        batch_op.drop_constraint(batch_op.f('uq_chat_messages_id_room_id_thread_level'), type_='unique')
        batch_op.drop_index('ix_chat_messages_room_id_seq_top_level')
        batch_op.drop_index('ix_chat_messages_thread_root_id_seq')
        batch_op.drop_index('ix_chat_messages_room_id_pinned_at')
        batch_op.drop_column('pin_slot')
        batch_op.drop_column('pinned_by')
        batch_op.drop_column('pinned_at')
        batch_op.drop_column('mentions_room')
        batch_op.drop_column('mention_ids')
        batch_op.drop_column('reaction_summary')
        batch_op.drop_column('thread_participant_ids')
        batch_op.drop_column('thread_last_reply_at')
        batch_op.drop_column('thread_reply_count')
        batch_op.drop_column('root_thread_level')
        batch_op.drop_column('thread_level')
        batch_op.drop_column('thread_root_id')

    with op.batch_alter_table('thread_follows', schema=None) as batch_op:
        batch_op.drop_index('ix_thread_follows_user_id_following')

    op.drop_table('thread_follows')
    with op.batch_alter_table('message_reactions', schema=None) as batch_op:
        batch_op.drop_index('ix_message_reactions_message_id_emoji_created_at')

    op.drop_table('message_reactions')
    with op.batch_alter_table('message_mentions', schema=None) as batch_op:
        batch_op.drop_index('ix_message_mentions_user_id_room_id_seq')

    op.drop_table('message_mentions')
    with op.batch_alter_table('message_edits', schema=None) as batch_op:
        batch_op.drop_index('ix_message_edits_message_id_edited_at')

    op.drop_table('message_edits')
