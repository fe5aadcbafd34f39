"""Alembic environment: metadata from db.models, URL from the caller or the environment."""

from __future__ import annotations

import os
from logging.config import fileConfig
from typing import Any

from alembic import context
from sqlalchemy.schema import SchemaItem

from db.engine import make_engine, normalize_url
from db.models import Base
from db.views import VIEW_NAMES

DEFAULT_URL = "sqlite:///screening.db"

config = context.config
if config.config_file_name is not None and config.attributes.get("configure_logger", True):
    fileConfig(config.config_file_name, disable_existing_loggers=False)


def _url() -> str:
    return str(
        config.attributes.get("url") or os.environ.get("SCREENING_DATABASE_URL") or DEFAULT_URL
    )


def _include_object(
    _object: SchemaItem,
    name: str | None,
    type_: str,
    _reflected: bool,
    _compare_to: SchemaItem | None,
) -> bool:
    """Leave the SQL views (owned by db.views, created by migrations) out of autogenerate."""
    return not (type_ == "table" and name in VIEW_NAMES)


def _options(dialect_name: str) -> dict[str, Any]:
    return {
        "target_metadata": Base.metadata,
        "compare_type": True,
        "render_as_batch": dialect_name == "sqlite",
        "include_object": _include_object,
    }


def run_migrations_offline() -> None:
    url = normalize_url(_url())
    context.configure(
        url=url,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
        **_options(url.get_backend_name()),
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    engine = make_engine(_url())
    try:
        with engine.connect() as connection:
            if connection.dialect.name == "sqlite":
                # Batch migrations rebuild tables; with foreign keys ON the DROP of the old
                # table would fire ON DELETE CASCADE. The pragma only works outside a transaction.
                connection.exec_driver_sql("PRAGMA foreign_keys = OFF")
                connection.commit()
            context.configure(connection=connection, **_options(connection.dialect.name))
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
