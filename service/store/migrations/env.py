"""Alembic's environment: migrations run on the connection the store hands over (see database.upgrade),
or on AIQA_DATABASE_URL / the default SQLite file when alembic is run by hand."""
from alembic import context

from service.store.tables import Base


def run_migrations(connection) -> None:
    context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


connection = context.config.attributes.get("connection")
if connection is not None:
    run_migrations(connection)
else:
    from service.config import DEFAULTS, from_environ
    from service.store.database import database_url, make_engine
    import os
    config = {**DEFAULTS, **from_environ()}
    config["CACHE_DIR"] = os.path.expanduser(config["CACHE_DIR"])
    with make_engine(database_url(config)).connect() as own:
        run_migrations(own)
        own.commit()
