"""The store's tests run on both back ends: a SQLite file and the session's real PostgreSQL server."""
import itertools

import pytest

_names = itertools.count()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path):
    """An empty database of each back end, one per test."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'aiqa.db'}"
    server = request.getfixturevalue("postgres_server")
    return server.create_database(f"store_test_{next(_names)}")


@pytest.fixture
def store_app(database_url, tmp_path):
    from service import create_app
    app = create_app({"LOAD_MODELS": False, "CACHE_DIR": str(tmp_path), "DATABASE_URL": database_url,
                      "MAX_RUN_CASES": 500, "MAX_RUN_CONTENT_LENGTH": 512 * 1024})
    yield app
    app.extensions["aiqa.store"].engine.dispose()


@pytest.fixture
def api(store_app):
    return store_app.test_client()
