"""The test suite's own PostgreSQL server: reachable with SQLAlchemy, and it makes isolated databases."""
import sqlalchemy


def test_server_answers_with_its_version(postgres_server):
    assert postgres_server.url.startswith("postgresql+psycopg://")
    engine = sqlalchemy.create_engine(postgres_server.url)
    try:
        with engine.connect() as conn:
            assert "PostgreSQL" in conn.execute(sqlalchemy.text("SELECT version()")).scalar_one()
            assert conn.execute(sqlalchemy.text("SELECT current_database()")).scalar_one() == postgres_server.database
    finally:
        engine.dispose()


def test_create_database_gives_an_empty_usable_database(postgres_server):
    url = postgres_server.create_database("pg_server_isolated")
    assert url != postgres_server.url
    engine = sqlalchemy.create_engine(url)
    try:
        with engine.begin() as conn:
            # A shared server (AIQA_TEST_DATABASE_URL) gets a suffix, so two test sessions never collide.
            assert conn.execute(sqlalchemy.text("SELECT current_database()")).scalar_one().startswith(
                "pg_server_isolated")
            tables = conn.execute(sqlalchemy.text(
                "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'")).scalar_one()
            assert tables == 0
            conn.execute(sqlalchemy.text("CREATE TABLE t (id serial PRIMARY KEY, name text NOT NULL)"))
            conn.execute(sqlalchemy.text("INSERT INTO t (name) VALUES ('a'), ('b')"))
        with engine.connect() as conn:
            assert conn.execute(sqlalchemy.text("SELECT count(*) FROM t")).scalar_one() == 2
    finally:
        engine.dispose()
    # The table went into the new database only.
    main = sqlalchemy.create_engine(postgres_server.url)
    try:
        with main.connect() as conn:
            assert not sqlalchemy.inspect(conn).has_table("t")
    finally:
        main.dispose()
