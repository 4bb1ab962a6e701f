"""The app's frame, shared by every page.

- ``state``: the server's run store, training jobs and limits (cached per server);
- ``navigation``: the page list and the one workaround a ``pages/`` folder needs;
- ``display``: the look (projector mode) and the page layout;
- ``url``: a page's setup in its URL (one loader for every page);
- ``data``: whether a spec's data is on this machine, the download, a gallery;
- ``jobs``: following a training job (queue place, progress, live curves, Stop) and a series in turn;
- ``engine``: where trainings run, in words;
- ``teacher_access``: whether this session is the teacher's;
- ``text``: numbers in words;
- ``keras_session``: keeps Streamlit from clearing Keras' state (every thread's) after each script run.
"""
