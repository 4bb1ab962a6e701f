"""The live canvas' JavaScript (ui/draw/canvas/canvas.js) under Node, against Python on the same pixels.

Quick checks of the numerical functions without a browser (the browser tests check the same in
Chromium, on strokes drawn with the mouse): ``toMnist`` equals ``lab.analysis.canvas.to_mnist``
to 1/255 on strokes of every width, dots, specks and real digits, centered or not, and
``forward`` equals the exported model's NumPy reference (itself checked against Keras).
Skipped where Node is not installed.
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from lab.analysis.canvas import digit_to_canvas, to_mnist
from lab.analysis.export import forward
from lab.data.sources import load_source
from tests.ci_support import needs

ROOT = Path(__file__).resolve().parents[1]
NODE = shutil.which("node")
# In CI a missing Node.js fails these tests (scripts/test.sh installs it); elsewhere they skip.
pytestmark = needs(NODE is not None, "Node.js is not installed (apt-get install -y nodejs)")

RUNNER = """
import fs from "fs";
const m = await import(process.argv[2]);
const cases = JSON.parse(fs.readFileSync(process.argv[3]));
const out = cases.images.map((c) => {
  const rgba = Uint8ClampedArray.from(Buffer.from(c.rgba, "base64"));
  const r = m.toMnist(rgba, c.side, c.side, c.center);
  return r && Array.from(r.image);
});
const model = cases.model && m.prepareModel(cases.model);
const probs = (cases.inputs || []).map((x) => Array.from(m.forward(model, x).probs));
console.log(JSON.stringify({ out, probs }));
"""


def run_js(tmp_path: Path, cases: dict) -> dict:
    module = tmp_path / "canvas.mjs"  # Node reads a .mjs file as an ES module, as the browser does
    module.write_text((ROOT / "ui/draw/canvas/canvas.js").read_text())
    (tmp_path / "run.mjs").write_text(RUNNER)
    (tmp_path / "cases.json").write_text(json.dumps(cases))
    done = subprocess.run(
        [NODE, str(tmp_path / "run.mjs"), str(module), str(tmp_path / "cases.json")],
        capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    return json.loads(done.stdout)


def random_strokes(rng: np.random.Generator, i: int) -> np.ndarray:
    """White strokes on an opaque black 280x280 canvas: lines of 6-40 px, some mere dots, some with a speck."""
    img = Image.new("RGBA", (280, 280), (0, 0, 0, 255))
    draw = ImageDraw.Draw(img)
    width = int(rng.integers(6, 41))
    for _ in range(int(rng.integers(1, 5))):
        points = [tuple(rng.integers(20, 260, 2).tolist()) for _ in range(int(rng.integers(2, 4)))]
        if i % 5 == 0:  # a dot or a short dash
            points = [points[0], (points[0][0] + int(rng.integers(0, 15)), points[0][1] + int(rng.integers(0, 15)))]
        draw.line(points, fill=(255, 255, 255, 255), width=width, joint="curve")
    if i % 7 == 0:
        draw.ellipse((5, 5, 9, 9), fill=(255, 255, 255, 255))
    return np.asarray(img)


def test_to_mnist_in_javascript_equals_python(tmp_path):
    rng = np.random.default_rng(0)
    sample = load_source("sample")
    canvases = [random_strokes(rng, i) for i in range(60)]
    canvases += [
        digit_to_canvas(sample.x_test[i], scale=10, offset=((i * 7) % 41 - 20, (i * 13) % 31 - 15), thickness=i % 8)
        for i in range(20)
    ]
    cases = [(rgba, center) for rgba in canvases for center in (True, False)]
    images = [{"rgba": base64.b64encode(r.tobytes()).decode(), "side": 280, "center": c} for r, c in cases]
    got = run_js(tmp_path, {"images": images, "model": None})["out"]
    nones = 0
    for (rgba, center), js in zip(cases, got, strict=True):
        expected = to_mnist(rgba, center=center)
        assert (js is None) == (expected is None)
        if expected is None:
            nones += 1
            continue
        np.testing.assert_allclose(np.array(js).reshape(28, 28), expected, atol=1 / 255)
    assert 0 < nones < len(cases) // 4  # dots were refused, digits kept


def test_forward_in_javascript_equals_the_numpy_reference(tmp_path):
    from lab.analysis.export import export_predictor
    from tests.test_export import SPECS, random_predictor

    images = np.asarray(load_source("sample").x_test[:10], dtype=np.float32).reshape(-1, 784) / 255.0
    for name in ("mlp-bn-before-dropout", "b7-cnn", "cnn-valid-pool-dropout", "raw-pixels-sigmoid-mse", "selu"):
        description = export_predictor(random_predictor(SPECS[name], centered=name.startswith("mlp")))
        probs = run_js(tmp_path, {"images": [], "model": description, "inputs": images.tolist()})["probs"]
        expected = np.stack([forward(description, x) for x in images])
        np.testing.assert_allclose(np.array(probs), expected, atol=1e-6, err_msg=name)
