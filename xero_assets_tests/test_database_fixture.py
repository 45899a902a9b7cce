"""The two-backend fixture itself: each test gets an empty database that no other test can see."""

import sqlalchemy as sa


def test_each_run_starts_empty_and_can_write(database_url: str) -> None:
    engine = sa.create_engine(database_url)
    with engine.begin() as conn:
        assert not sa.inspect(conn).get_table_names()
        conn.execute(sa.text("create table probe (id integer primary key)"))
        conn.execute(sa.text("insert into probe values (1)"))
    with engine.connect() as conn:
        assert conn.execute(sa.text("select count(*) from probe")).scalar_one() == 1
    engine.dispose()
