"""The notebooks run top to bottom (nbclient, Debian's python3 kernel); no outputs are committed."""
import os

import nbformat
import pytest
from nbclient import NotebookClient

import tessera

NOTEBOOKS = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "notebooks")


@pytest.mark.parametrize("name", sorted(n for n in os.listdir(NOTEBOOKS) if n.endswith(".ipynb")))
def test_notebook_runs(name):
    path = os.path.join(NOTEBOOKS, name)
    notebook = nbformat.read(path, as_version=4)
    assert all(not cell.get("outputs") for cell in notebook.cells if cell.cell_type == "code"), \
        f"{name} has outputs committed; clear them"
    # The kernel runs in notebooks/: it must find this very package, wherever it was imported from.
    package_root = os.path.dirname(os.path.dirname(os.path.abspath(tessera.__file__)))
    os.environ["PYTHONPATH"] = os.pathsep.join([package_root, os.environ.get("PYTHONPATH", "")])
    os.environ.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")
    NotebookClient(notebook, timeout=900, kernel_name="python3",
                   resources={"metadata": {"path": NOTEBOOKS}}).execute()
