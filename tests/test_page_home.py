"""The app's entry point and its home page, under AppTest."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from lab.runs.warm import WARM_UP_ENV

ROOT = Path(__file__).resolve().parents[1]

# Run in a fresh interpreter: in the pytest process another test may already have
# imported TensorFlow, and then "the home page did not import it" could not be seen.
OPEN_HOME_AND_LIST_HEAVY_MODULES = """
import sys
from streamlit.testing.v1 import AppTest

at = AppTest.from_file(sys.argv[1], default_timeout=60).run()
assert not at.exception, at.exception
assert "MLP Lab" in at.title[0].value, at.title
print("tensorflow" in sys.modules, "keras" in sys.modules)
"""
# With the warm-up on (the default): one daemon thread per process, started by the app's
# first script run, imports the trainer and prepares the default data while pages go on.
OPEN_HOME_AND_WAIT_FOR_THE_WARM_UP = """
import sys, threading
from streamlit.testing.v1 import AppTest
from lab.runs.warm import THREAD_NAME, warm_up_result

at = AppTest.from_file(sys.argv[1], default_timeout=60).run()
assert not at.exception, at.exception
at.run()  # a second script run starts no second thread
threads = [t for t in threading.enumerate() if t.name == THREAD_NAME]
assert len(threads) == 1, threads
threads[0].join(timeout=150)
result = warm_up_result()
assert result is not None and not result.error, result
print("daemon" if threads[0].daemon else "not-daemon", "tensorflow" in sys.modules, "keras" in sys.modules,
      "prepared" if result.data_seconds > 0 else "not-prepared")
"""


def test_app_opens_on_home_which_explains_the_lab_and_links_every_page():
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=60)
    at.run()
    assert not at.exception
    assert "MLP Lab" in at.title[0].value
    text = " ".join(m.value for m in at.markdown)
    for technique in ("weight initialization", "batch normalization", "dropout", "augmentation"):
        assert technique in text
    links = [link.proto.page for link in at.get("page_link")]
    assert len(links) == 11  # the five steps of "Start here" (tests/test_home_route.py), then every page
    for page in ("train", "draw", "techniques", "cnn", "gradients", "tune"):
        assert any(page in link for link in links), (page, links)


def run_fresh(script: str, **env: str) -> list[str]:
    """Run ``script`` on streamlit_app.py in a fresh interpreter; its last printed words."""
    done = subprocess.run(
        [sys.executable, "-c", script, str(ROOT / "streamlit_app.py")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
        env={**os.environ, **env},
    )
    assert done.returncode == 0, done.stderr[-4000:]
    return done.stdout.split()


def test_home_page_imports_no_tensorflow_so_it_opens_fast():
    # The server's background warm-up imports TensorFlow on purpose (next test); switched off
    # here, what is left is the Home page's own script run, which must not.
    words = run_fresh(OPEN_HOME_AND_LIST_HEAVY_MODULES, **{WARM_UP_ENV: "0"})
    assert words[-2:] == ["False", "False"]  # neither TensorFlow nor Keras was imported


@pytest.mark.slow  # imports TensorFlow in a fresh interpreter
def test_the_app_warms_up_tensorflow_and_the_default_data_in_a_background_thread():
    words = run_fresh(OPEN_HOME_AND_WAIT_FOR_THE_WARM_UP)
    assert words[-4:] == ["daemon", "True", "True", "prepared"], words
