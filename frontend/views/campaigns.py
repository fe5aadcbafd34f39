"""Campaigns: every campaign's progress, and the chosen one's jobs per stage and failures."""

import streamlit as st

from frontend import data, plots, state

url = data.current_url()
st.title("Campaigns")
overview = data.campaign_overview(url)
if overview.empty:
    st.info("No campaigns in this database yet: `screening enumerate` or `screening run` adds one.")
    st.stop()
st.dataframe(
    overview,
    hide_index=True,
    column_config={
        "done_percent": st.column_config.ProgressColumn("done", format="%.0f%%", max_value=100),
        "created_at": st.column_config.DatetimeColumn("created"),
    },
)

campaign = state.selected_campaign(url)
if campaign is None:
    st.stop()
st.header(campaign.name)
refresh = st.toggle("Refresh every 5 s while the campaign runs", value=False)


@st.fragment(run_every=data.PROGRESS_TTL_S if refresh else None)
def progress() -> None:
    counts = data.job_counts(url)
    counts = counts[counts["campaign_id"] == campaign.id]
    if counts.empty:
        st.info("No jobs yet: the campaign is enumerated but `screening run` has not started.")
        return
    by_status = counts.groupby("status")["count"].sum()
    columns = st.columns(4)
    for column, status in zip(columns, plots.STATUS_COLOURS, strict=True):
        column.metric(f"{status} jobs", int(by_status.get(status, 0)))
    st.plotly_chart(plots.progress_figure(counts), key="progress")
    stages = counts.pivot_table(
        index="kind", columns="status", values="count", aggfunc="sum", fill_value=0
    )
    st.dataframe(stages)
    failures = data.failed_jobs(url, campaign.id)
    st.subheader("Failures")
    if failures.empty:
        st.success("No failed jobs.")
    else:
        st.dataframe(failures, hide_index=True)


progress()
