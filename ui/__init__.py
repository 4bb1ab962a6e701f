"""What the pages share: Streamlit widgets and views; every number comes from ``lab``.

- ``state``: the server's run store and training jobs (cached).
- ``url``: a page's setup in its URL (one loader for every page).
- ``spec_widgets``, ``conv_widgets``: the controls for a spec, made from its settings' descriptions.
- ``network``, ``data``: what a spec builds; whether its data is here (and the download).
- ``jobs``: following a training job (progress, live curves, Stop), training specs in turn.
- ``charts``, ``health_charts``, ``images``: Altair charts and pixel pictures (no Streamlit).
- ``text``: numbers in words.
- ``weights_view``, ``session_runs``, ``mlp_vs_cnn``: larger views of the Train and CNN pages.
- ``navigation``: the one workaround a ``pages/`` folder needs.
- ``keras_session``: keeps Streamlit from clearing Keras' state (every thread's) after each script run.
"""
