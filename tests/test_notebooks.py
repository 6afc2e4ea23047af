"""Tests for the Colab notebooks in colab/: their shape (fast) and a top-to-bottom run (slow).

The slow test executes every notebook with nbclient in a kernel that runs *this* interpreter
(a private kernelspec whose argv is `sys.executable`, so the venv's packages are the ones under
test) with the smoke budget: the kernel inherits `MNASNET_NOTEBOOK_BUDGET=smoke`, which each
notebook's parameters cell reads. The notebooks run in order in one scratch directory, so 03
retrains the architecture that 02's search found. Any cell that raises fails the test.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
COLAB = ROOT / "colab"
NOTEBOOKS = sorted(path.name for path in COLAB.glob("*.ipynb"))
BUDGET_VARIABLE = "MNASNET_NOTEBOOK_BUDGET"
KERNEL_NAME = "mnasnet-tf-test"
CELL_TIMEOUT_S = 600


def _read(name: str):
    nbformat = pytest.importorskip("nbformat")
    return nbformat.read(COLAB / name, as_version=4)


def _code(notebook) -> list[str]:
    return [cell.source for cell in notebook.cells if cell.cell_type == "code"]


def test_the_three_notebooks_exist():
    assert NOTEBOOKS == [
        "01_models_and_latency.ipynb",
        "02_search_quickstart.ipynb",
        "03_train_and_export.ipynb",
    ]


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_is_valid_and_committed_without_outputs(name):
    nbformat = pytest.importorskip("nbformat")
    notebook = _read(name)
    nbformat.validate(notebook)
    assert notebook.metadata["kernelspec"]["name"] == "python3"
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, (name, cell.source[:60])


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_first_code_cell_installs_only_in_colab(name):
    first = _code(_read(name))[0]
    assert 'REPO_URL = "' in first
    assert '"google.colab" in sys.modules' in first
    assert "pip" in first


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_parameters_cell_reads_the_budget(name):
    notebook = _read(name)
    tagged = [cell for cell in notebook.cells if "parameters" in cell.metadata.get("tags", [])]
    assert len(tagged) == 1, "one cell tagged 'parameters'"
    assert BUDGET_VARIABLE in tagged[0].source
    assert notebook.cells.index(tagged[0]) <= 4, "the parameters cell sits near the top"


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebooks_call_the_api_and_define_no_library_code(name):
    for source in _code(_read(name)):
        for line in source.splitlines():
            assert not line.lstrip().startswith(("def ", "class ")), (name, line)
            assert "sys.path" not in line, (name, line)


# ---- executed (slow) ----


@pytest.fixture(scope="module")
def notebook_env(tmp_path_factory):
    """A kernelspec for this interpreter and the smoke budget in the environment the kernel
    inherits; yields the scratch directory the notebooks run in."""
    pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    jupyter_dir = tmp_path_factory.mktemp("jupyter")
    spec_dir = jupyter_dir / "kernels" / KERNEL_NAME
    spec_dir.mkdir(parents=True)
    spec = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": f"mnasnet-tf tests ({sys.executable})",
        "language": "python",
    }
    (spec_dir / "kernel.json").write_text(json.dumps(spec), encoding="utf-8")
    with pytest.MonkeyPatch.context() as patch:
        previous = os.environ.get("JUPYTER_PATH")
        patch.setenv("JUPYTER_PATH", os.pathsep.join(filter(None, [str(jupyter_dir), previous])))
        patch.setenv(BUDGET_VARIABLE, "smoke")
        patch.setenv("TF_CPP_MIN_LOG_LEVEL", "2")
        patch.setenv("MPLBACKEND", "agg")
        yield tmp_path_factory.mktemp("notebooks")


def _outputs_text(notebook) -> str:
    parts = []
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            parts.append(output.get("text", ""))
            parts.append(str(output.get("data", {}).get("text/plain", "")))
    return "\n".join(parts)


@pytest.mark.slow
@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_runs_top_to_bottom_in_smoke_mode(name, notebook_env):
    import nbclient

    notebook = _read(name)
    client = nbclient.NotebookClient(
        notebook,
        kernel_name=KERNEL_NAME,
        timeout=CELL_TIMEOUT_S,
        resources={"metadata": {"path": str(notebook_env)}},
    )
    start = time.perf_counter()
    client.execute()  # raises CellExecutionError, naming the cell, if any cell raises
    print(f"{name}: {time.perf_counter() - start:.0f} s in smoke mode")
    text = _outputs_text(notebook)
    assert "budget: smoke" in text, "the parameters cell did not pick up the smoke budget"
    assert f"at {sys.executable}" in text, "the kernel did not run this interpreter"
