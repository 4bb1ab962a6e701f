"""The controls of a spec, shared by the pages that set one up (Train, CNN).

- ``spec_widgets``: a control for every setting, made from ``lab.spec.SETTINGS``;
- ``lesson``: lesson links, which leave only a lesson's controls editable.
"""
