"""lab/ is the core: it never imports Streamlit, and importing it does not import TensorFlow."""

import ast
import subprocess
import sys
from pathlib import Path

LAB = Path(__file__).resolve().parents[1] / "lab"


def test_lab_never_imports_streamlit():
    offenders = []
    for path in LAB.rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            if any(n == "streamlit" or n.startswith(("streamlit.", "streamlit_")) for n in names):
                offenders.append(str(path.relative_to(LAB)))
    assert offenders == []


def test_spec_store_and_data_import_without_tensorflow():
    code = (
        "import sys, lab, lab.spec, lab.architecture, lab.data.sources, lab.runs.store, lab.nn.result,"
        " lab.analysis.canvas;"
        "print('tensorflow' in sys.modules, 'keras' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["False", "False"]


def test_the_command_line_starts_without_tensorflow(tmp_path):
    """`python -m lab runs list` answers at once: only the commands that train or predict load TensorFlow."""
    code = (
        "import sys; from lab.cli.main import main;"
        f"code = main(['runs', 'list', '--home', {str(tmp_path)!r}]);"
        "print(code, 'tensorflow' in sys.modules, 'keras' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out[-3:] == ["0", "False", "False"]
