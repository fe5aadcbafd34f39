"""Storage layer: ORM models, engines from a URL, Alembic migrations, SQL views and queries."""
