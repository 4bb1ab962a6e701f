"""Keras' state survives the app's script runs: a training or a prediction in another thread keeps its scopes.

Streamlit clears Keras' session after every script run, which in Keras 3 wipes the
state of every thread (``ui/keras_session.py``). Each check runs in a fresh
interpreter: in the pytest process another test's page may already have switched
that cleanup off, and then its absence could not be seen.
"""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# A stateless scope held by this thread through a page's script run, as the gradient
# probe of a training in a background thread holds one: inside it, the variable reads 5.
HOLD_A_SCOPE_THROUGH_A_RUN = """
import sys
import keras
from streamlit.testing.v1 import AppTest

variable = keras.Variable(1.0)
with keras.StatelessScope(state_mapping=[(variable, keras.ops.convert_to_tensor(5.0))]):
    at = AppTest.from_file(sys.argv[1], default_timeout=120).run()
    assert not at.exception, at.exception
    at.run()
    print(float(keras.ops.convert_to_numpy(variable.value)))
"""


@pytest.mark.parametrize("script", ["streamlit_app.py", "pages/techniques.py"])
def test_a_script_run_leaves_another_threads_keras_scope_alone(script, tmp_path):
    env = {
        "MLP_LAB_HOME": str(tmp_path / "runs"),
        "MLP_LAB_WARM_UP": "0",
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "PYTHONPATH": str(ROOT),
    }
    done = subprocess.run(
        [sys.executable, "-c", HOLD_A_SCOPE_THROUGH_A_RUN, str(ROOT / script)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    # 1.0 is what a cleared session gives: the scope gone, the variable read as stored.
    assert done.stdout.strip().splitlines()[-1] == "5.0", done.stdout
