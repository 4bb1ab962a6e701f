"""The app's entry point and its home page, under AppTest."""

import subprocess
import sys
from pathlib import Path

from streamlit.testing.v1 import AppTest

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


def test_app_opens_on_home_which_explains_the_lab_and_links_every_page():
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=60)
    at.run()
    assert not at.exception
    assert "MLP Lab" in at.title[0].value
    text = " ".join(m.value for m in at.markdown)
    for technique in ("weight initialization", "batch normalization", "dropout", "augmentation"):
        assert technique in text
    links = [link.proto.page for link in at.get("page_link")]
    assert len(links) == 5
    for page in ("train", "draw", "techniques", "cnn", "gradients"):
        assert any(page in link for link in links), (page, links)


def test_home_page_imports_no_tensorflow_so_it_opens_fast():
    done = subprocess.run(
        [sys.executable, "-c", OPEN_HOME_AND_LIST_HEAVY_MODULES, str(ROOT / "streamlit_app.py")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    assert done.stdout.split()[-2:] == ["False", "False"]  # neither TensorFlow nor Keras was imported
