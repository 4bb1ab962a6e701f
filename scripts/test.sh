#!/usr/bin/env bash
# Install the test dependencies and run the whole suite: lint, lab, every page, browser.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v chromium >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  # Debian's Chromium for the Playwright tests (Playwright never downloads a browser here).
  (apt-get update -qq && apt-get install -y -qq chromium >/dev/null) || echo "warning: chromium not installed" >&2
fi
python -m pip install -q -r requirements-test.txt
python -m ruff check .
python -m pytest -q
