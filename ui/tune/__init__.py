"""The Tune page's parts: the knobs to search (made from ``lab.spec.SETTINGS``), the trials, what was found."""
