"""What the pages share: widgets for the spec, URL state, following a training job, charts and image grids.

Streamlit only: every number comes from ``lab``.
"""
