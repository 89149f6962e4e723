"""The Alembic migrations create exactly the schema the models describe, on both databases."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from maild.store.db import make_engine, require_current, revisions, upgrade
from maild.base.errors import ConfigError
from maild.store.models import Base

import pytest


def test_migrations_match_models(db_url: str) -> None:
    engine = make_engine(db_url)
    with pytest.raises(ConfigError, match="maild db upgrade"):
        require_current(engine)
    upgrade(engine)
    upgrade(engine)  # a second run is a no-op
    current, head = revisions(engine)
    assert current == head
    require_current(engine)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)
    assert diff == []
    engine.dispose()
