"""user directory: user_name_keys, the index of display-name words the user search reads

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-05 01:30:00

"""
import re
import unicodedata

from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

# A copy of armada.auth.directory as of this revision (migrations never import the app, which moves on).
KEY_CHARS = 100
_WORD_START = re.compile(r"(?:^|(?<=\s)|(?<![^\W_])(?=[^\W_]))\S")


def _fold(text):
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold())
    return " ".join(folded.split())


def _name_keys(display_name):
    name = _fold(display_name)
    return {name[match.start():][:KEY_CHARS] for match in _WORD_START.finditer(name)}


def upgrade():
    key_type = sa.String(length=100).with_variant(sa.String(length=100, collation="C"), "postgresql")
    keys = op.create_table('user_name_keys',
    sa.Column('user_id', sa.Uuid(), nullable=False),
    sa.Column('key', key_type, nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_user_name_keys_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', 'key', name=op.f('pk_user_name_keys'))
    )
    with op.batch_alter_table('user_name_keys', schema=None) as batch_op:
        batch_op.create_index('ix_user_name_keys_key_user_id', ['key', 'user_id'], unique=False)

    users = sa.table('users', sa.column('id', sa.Uuid()), sa.column('display_name', sa.String()))
    connection = op.get_bind()
    rows = [
        {'user_id': user_id, 'key': key}
        for user_id, display_name in connection.execute(sa.select(users.c.id, users.c.display_name))
        for key in _name_keys(display_name)
    ]
    if rows:
        op.bulk_insert(keys, rows)


def downgrade():
    with op.batch_alter_table('user_name_keys', schema=None) as batch_op:
        batch_op.drop_index('ix_user_name_keys_key_user_id')
    op.drop_table('user_name_keys')
