"""The Streamlit explorer: read-only pages over a campaign database (imports db only)."""
