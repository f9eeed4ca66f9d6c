"""People get normalised search names; PostgreSQL gets a trigram index on them.

The duplicate check at intake (storage/people/duplicates.py) searches `people.search_given`
("given known-as") and `people.search_family`: lower case, accents stripped, punctuation
gone, single spaces. On PostgreSQL both are in one two-column GIN trigram index (pg_trgm, a
trusted extension: a database owner may create it); SQLite has no such index and the check
asks the same questions with LIKE.

The columns are added in place on both databases (NOT NULL needs the '' server default on
SQLite). Rebuilding `people` instead, as alembic's batch mode does on SQLite, would drop the
old table with foreign keys on and run its ON DELETE CASCADEs.

Existing rows are filled in by Python in batches of 5,000, with a frozen copy of the
normaliser (a later change to storage.people.names needs its own migration to recompute).

Downgrade drops the index and the columns; the pg_trgm extension stays (others may use
it, and dropping it needs its owner).

Revision ID: 0002
Revises: 0001
"""
from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = ('search_given', 'search_family')
INDEX = 'ix_people_search_trgm'
BATCH = 5000

# Frozen copy of storage.people.names.normalise_name as of this revision.
_TRANSLITERATE = str.maketrans({
    'ø': 'o', 'ł': 'l', 'đ': 'd', 'ð': 'd', 'þ': 'th', 'æ': 'ae', 'œ': 'oe', '\u0131': 'i',
    'ß': 'ss',
})
_APOSTROPHES = re.compile(r"['\u2019\u2018`\u02bc]")
_NOT_A_LETTER = re.compile(r'[^\w]|[\d_]')
_SPACES = re.compile(r'\s+')


def _normalise(raw: str | None) -> str:
    if not raw:
        return ''
    text = unicodedata.normalize('NFKD', raw.casefold())
    text = ''.join(c for c in text if not unicodedata.combining(c)).translate(_TRANSLITERATE)
    text = _APOSTROPHES.sub('', text)
    text = _NOT_A_LETTER.sub(' ', text)
    return _SPACES.sub(' ', text).strip()


def _search_given(given: str | None, known_as: str | None) -> str:
    return ' '.join(p for p in (_normalise(given), _normalise(known_as)) if p)


people = sa.table(
    'people',
    sa.column('id', sa.BigInteger()),
    sa.column('given_name', sa.String()),
    sa.column('family_name', sa.String()),
    sa.column('known_as', sa.String()),
    sa.column('search_given', sa.Text()),
    sa.column('search_family', sa.Text()),
)


def _fill_search_names(connection: sa.Connection) -> None:
    last_id = 0
    while True:
        rows = connection.execute(
            sa.select(people.c.id, people.c.given_name, people.c.family_name, people.c.known_as)
            .where(people.c.id > last_id)
            .order_by(people.c.id)
            .limit(BATCH)
        ).all()
        if not rows:
            return
        connection.execute(
            people.update()
            .where(people.c.id == sa.bindparam('person_id'))
            .values(search_given=sa.bindparam('given'), search_family=sa.bindparam('family')),
            [{'person_id': r.id, 'given': _search_given(r.given_name, r.known_as),
              'family': _normalise(r.family_name)} for r in rows],
        )
        last_id = rows[-1].id


def upgrade() -> None:
    for column in COLUMNS:
        op.add_column(
            'people', sa.Column(column, sa.Text(), server_default=sa.text("''"), nullable=False)
        )
    _fill_search_names(op.get_bind())
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('CREATE EXTENSION IF NOT EXISTS pg_trgm')
        op.create_index(
            INDEX, 'people', list(COLUMNS), unique=False, postgresql_using='gin',
            postgresql_ops={column: 'gin_trgm_ops' for column in COLUMNS},
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.drop_index(INDEX, table_name='people', postgresql_using='gin')
    for column in reversed(COLUMNS):
        op.drop_column('people', column)
