"""examples/quickstart.ipynb runs headless in a real Jupyter kernel, without an error."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "examples" / "quickstart.ipynb"


def _outputs(cell: dict, kind: str) -> list[str]:
    """Every output of `kind` ("text/html", "image/png", "text/plain", "stream") of a cell."""
    found = []
    for output in cell.get("outputs", []):
        if kind == "stream" and output.get("output_type") == "stream":
            found.append(output["text"])
        elif kind in output.get("data", {}):
            found.append(output["data"][kind])
    return found


def test_the_quickstart_notebook_runs_in_a_kernel(tmp_path, monkeypatch):
    nbformat = pytest.importorskip("nbformat")
    from nbclient import NotebookClient

    # The kernel starts in a scratch folder (its runs/ lands there) and finds the project as
    # an installed package would be found.
    path = os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])
    monkeypatch.setenv("PYTHONPATH", path)
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    client = NotebookClient(notebook, timeout=180, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}})
    client.execute()  # raises CellExecutionError on the first cell that fails

    cells = [c for c in notebook.cells if c.cell_type == "code"]
    assert all(o.get("output_type") != "error" for c in cells for o in c.get("outputs", []))
    by_source = {c.source.strip().splitlines()[-1]: c for c in cells}
    progress = "".join(_outputs(by_source['result = tune(frame, target="target", max_trials=3, '
                                         'epochs=5, seed=0, out="runs")'], "stream"))
    assert "task: multiclass" in progress and "run folder: runs/" in progress
    assert "INFO:tensorflow" not in progress  # TensorFlow's notebook-only log lines
    summary = _outputs(by_source["result"], "text/html")
    assert summary and "Diagnosis:" in summary[0] and "report.html" in summary[0]
    assert _outputs(by_source['ax.set_ylabel("validation loss (lower is better)");'], "image/png")
    table = _outputs(by_source["result.predict(rows)"], "text/plain")[0]
    assert "prediction" in table and "probability_0" in table
    runs = list((tmp_path / "runs").iterdir())
    assert len(runs) == 1 and (runs[0] / "metrics.json").exists()
