"""Typed accessors for the explorer's session state: the chosen campaign, the open
composition, and a request (from the map) to open one."""

from __future__ import annotations

import streamlit as st

from db.explorer_queries import CampaignInfo
from frontend import data

_CAMPAIGN = "explorer_campaign_id"
_COMPOSITION = "explorer_composition_id"
_OPEN_REQUESTED = "explorer_open_requested"


def campaign_id() -> int | None:
    """The campaign chosen in the sidebar, if any."""
    return st.session_state.get(_CAMPAIGN)


def set_campaign_id(value: int) -> None:
    st.session_state[_CAMPAIGN] = value


def selected_campaign(url: str) -> CampaignInfo | None:
    """The chosen campaign's row, None while the database has no campaign."""
    return next((c for c in data.campaigns(url) if c.id == campaign_id()), None)


def composition_id() -> int | None:
    """The composition last opened (from the map or the detail page)."""
    return st.session_state.get(_COMPOSITION)


def set_composition_id(value: int) -> None:
    st.session_state[_COMPOSITION] = value


def request_open(composition: int) -> None:
    """Ask for the composition page on the next run (set from a selection callback)."""
    st.session_state[_COMPOSITION] = composition
    st.session_state[_OPEN_REQUESTED] = True


def take_open_request() -> bool:
    """Whether an open was requested since the last call (the request is consumed)."""
    return bool(st.session_state.pop(_OPEN_REQUESTED, False))
