"""Where the database is: ``--database``, else $SCREENING_DATABASE_URL, else the campaign's
``database`` key, else the embedded default ``sqlite:///screening.db``."""

from __future__ import annotations

import os

DATABASE_ENV = "SCREENING_DATABASE_URL"
DEFAULT_DATABASE_URL = "sqlite:///screening.db"


def resolve_database_url(flag: str | None, campaign_value: str | None = None) -> str:
    return flag or os.environ.get(DATABASE_ENV) or campaign_value or DEFAULT_DATABASE_URL
