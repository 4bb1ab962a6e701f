"""The held-out digits of a source: test digits no page, chart or mistake gallery ever shows.

The class challenge (``lab.challenge``) scores submissions on them, split into a public
half (the live leaderboard) and a private half (revealed at the end). Only scoring code
imports this module: ``ui`` may not (an import-linter contract in ``pyproject.toml``), and
``tests/test_held_out.py`` checks that no page's data holds one of these images.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from lab.data.sources import HELD_OUT, HELD_OUT_SEED, held_out_mask, load_complete_source


@dataclass(frozen=True)
class HeldOut:
    """A source's held-out digits, uint8 pixels (n, 784) and labels (n,), and which half each is in.

    Attributes
    ----------
    public : np.ndarray
        Boolean mask: the public half (the live leaderboard); the rest is the private half.
    """

    name: str
    x: np.ndarray
    y: np.ndarray
    public: np.ndarray

    @property
    def sizes(self) -> tuple[int, int]:
        """(public digits, private digits)."""
        return int(self.public.sum()), int((~self.public).sum())


def has_held_out(name: str) -> bool:
    """Whether a source holds digits out for a challenge (the sample and MNIST do)."""
    return HELD_OUT.get(name, 0) > 0


@functools.lru_cache(maxsize=2)
def load_held_out(name: str) -> HeldOut:
    """The held-out digits of ``name``, split stratified and seeded into two halves.

    Raises
    ------
    ValueError
        For a source that holds no digits out (Fashion-MNIST, IDX folders).
    DataUnavailable
        When the source cannot be loaded here.
    """
    if not has_held_out(name):
        raise ValueError(f"The data '{name}' holds no digits out for a challenge: use the sample or MNIST.")
    complete = load_complete_source(name)
    held = held_out_mask(name, complete.y_test)
    x, y = complete.x_test[held], complete.y_test[held]
    # lazy: scikit-learn takes a second to import
    from sklearn.model_selection import train_test_split

    public_idx, _ = train_test_split(np.arange(len(y)), train_size=len(y) // 2, stratify=y, random_state=HELD_OUT_SEED)
    public = np.zeros(len(y), dtype=bool)
    public[public_idx] = True
    for array in (x, y, public):
        array.setflags(write=False)
    return HeldOut(name, x, y, public)
