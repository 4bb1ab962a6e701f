"""The app's entry point and its home page, under AppTest."""

import sys
from pathlib import Path

from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[1]


def test_app_opens_on_home_which_explains_the_lab_and_links_every_page():
    had_tf = "tensorflow" in sys.modules
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
    if not had_tf:  # the home page needs no TensorFlow: it must open fast
        assert "tensorflow" not in sys.modules
