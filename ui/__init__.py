"""What the pages show, in Streamlit; every number comes from ``lab``.

Shared by every page:

- ``ui.app``: the app's frame: session state and the cached run store and jobs, navigation, the look (projector
  mode), a page's setup in its URL, the data's availability, following a training job, the teacher's unlock;
- ``ui.controls``: the controls of a spec, made from its settings' descriptions (``lab.spec.SETTINGS``), and
  lesson links;
- ``ui.charts``: Altair charts and pixel pictures (no Streamlit calls): the one curve builder, the figures of a
  trained network, the layer table.

Serving one page each (never imported by another page's package, nor by the shared ones):
``ui.cnn``, ``ui.draw``, ``ui.gradients``, ``ui.train``, ``ui.tune``, ``ui.teacher``, ``ui.techniques``.
``lint-imports`` keeps both rules (``pyproject.toml``).
"""
