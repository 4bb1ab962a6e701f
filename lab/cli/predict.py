"""``python -m lab predict --run RUN_ID FILE...``: classify image files with a stored run, in one batch.

Each file goes through the Draw page's preprocessing (``lab.analysis.predictor``)
and the run's model; without ``--run`` the best stored digit model answers.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from lab.analysis.predictor import Prediction, preprocess_file
from lab.architecture import NUM_CLASSES
from lab.runs.queries import digit_runs, load_predictor
from lab.runs.store import RunStore


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``predict`` on ``python -m lab``'s subcommands."""
    p = subparsers.add_parser(
        "predict",
        help="classify image files (photos of digits, saved drawings) with a stored run",
        description="Each file goes through the Draw page's preprocessing and the run's model; all files in one batch.",
    )
    p.add_argument("files", nargs="+", metavar="FILE", help="PNG or JPEG images of one digit each")
    p.add_argument("--run", help="run id (see `python -m lab runs`); default: the best stored digit model")
    p.add_argument("--no-center", action="store_true", help="skip MNIST's crop-and-center step (to see why it matters)")
    p.add_argument("--json", action="store_true", help="one JSON object per file")
    p.add_argument("--home", help="run store folder (default $MLP_LAB_HOME or ./runs)")
    return p


def run(args: argparse.Namespace) -> int:
    """``predict``: print each file's digit and probabilities; exit 1 if any file could not be read."""
    store = RunStore(args.home)
    run_id = args.run
    if run_id is None:
        runs = digit_runs(store, 1)  # the best one
        if not runs:
            raise ValueError(f"No stored digit model in {store.home}: train one first (python -m lab train).")
        run_id = runs[0].run_id
    predictor = load_predictor(run_id, store)
    images, errors = preprocess_files(args.files, center=not args.no_center)
    probs = predictor.probabilities(np.stack(list(images.values()))) if images else np.zeros((0, NUM_CLASSES))
    answers = dict(zip(images, probs, strict=True))
    for name in args.files:
        if name in answers:
            print(_format_answer(name, Prediction(answers[name]), args.json))
        else:
            print(_format_error(name, errors[name], args.json), file=sys.stdout if args.json else sys.stderr)
    return 1 if errors else 0


def preprocess_files(paths: Sequence[str], center: bool = True) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Read and preprocess image files; returns ({path: 28x28 image}, {path: error message})."""
    images: dict[str, np.ndarray] = {}
    errors: dict[str, str] = {}
    for name in paths:
        try:
            image = preprocess_file(Path(name).read_bytes(), center=center)
        except OSError as exc:
            errors[name] = f"cannot read the file ({exc.strerror or exc})"
            continue
        except ValueError as exc:
            errors[name] = str(exc)
            continue
        if image is None:
            errors[name] = "no digit found: the image looks blank (or holds only a dot)"
        else:
            images[name] = image
    return images, errors


def _format_answer(name: str, prediction: Prediction, as_json: bool) -> str:
    if as_json:
        return json.dumps(
            {
                "file": name,
                "digit": prediction.digit,
                "probability": round(prediction.probability, 6),
                "probs": [round(float(p), 6) for p in prediction.probs],
            }
        )
    probs = " ".join(f"{d}:{p:.3f}" for d, p in enumerate(prediction.probs))
    return f"{name}: {prediction.digit} ({prediction.probability:.1%})  {probs}"


def _format_error(name: str, message: str, as_json: bool) -> str:
    return json.dumps({"file": name, "error": message}) if as_json else f"{name}: error: {message}"
