"""The project's exception hierarchy: every message is one line that names the problem."""

from __future__ import annotations


class ScreeningError(Exception):
    """Base of every error the command line reports as one line and exit code 2."""


class CampaignError(ScreeningError):
    """The campaign spec is invalid; raised before anything is written."""


class PotentialError(ScreeningError):
    """A potential spec is unknown or its model cannot be loaded."""


class CalculationFailed(ScreeningError):
    """A calculation gave unphysical numbers (NaN, exploding forces); not worth retrying."""


class FarmLost(ScreeningError):
    """The Dask scheduler went away and did not come back; a rerun resumes."""
