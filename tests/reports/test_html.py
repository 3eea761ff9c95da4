"""The HTML report: every section for every task, escaping of user strings, a clean page load."""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import numpy as np
import pytest

from common.records import SearchResult, TrialRecord
from data.task import Task
from reports import html as report_html
from reports.diagnosis import diagnose, diagnose_trial
from reports.evaluation import Predictions, evaluate
from reports.html import (
    ReportContext,
    model_figures,
    render_report,
    search_figures,
)

SCRIPT = "<script>alert(1)</script>"
IMG = '"><img src=x onerror=alert(2)>'
SECTIONS = (
    "summary",
    "diagnosis",
    "learning-curves",
    "all-trials",
    "search-history",
    "hyperparameters",
    "predictions",
    "trials",
    "report-end",
)
KINDS = ("binary", "multiclass", "regression")
# Namespaces are names, not requests; nothing else may point outside the file.
_NAMESPACES = ("http://www.w3.org/2000/svg", "http://www.w3.org/1999/xlink")


def _curves(n: int, floor: float, best: int) -> dict[str, list[float]]:
    t = np.arange(n)
    train = floor + 0.6 * np.exp(-t / 4)
    val = floor + 0.05 + 0.6 * np.exp(-t / 4) + 0.002 * np.maximum(t - best + 1, 0)
    return {
        "loss": train.tolist(),
        "val_loss": val.tolist(),
        "accuracy": (1 - train / 2).tolist(),
        "val_accuracy": (1 - val / 2).tolist(),
    }


def _search(hostile: str) -> SearchResult:
    trials = []
    for i in range(5):
        history = _curves(20 + 3 * i, 0.05 + 0.02 * i, 10 + i)
        hp = {
            "layers": 1 + i % 2,
            "units_0": [16, 64][i % 2],
            "activation": [hostile, "relu"][i % 2],
            "learning_rate": 10.0 ** -(2 + i % 3),
            "l2": 1e-5 * (i + 1),
            "dropout": 0.1 * i,
        }
        trials.append(
            TrialRecord(
                str(i),
                "COMPLETED",
                min(history["val_loss"]),
                hp,
                len(history["loss"]),
                10 + i,
                2.0,
                "",
                history,
            )
        )
    trials.append(
        TrialRecord(
            "5", "FAILED", None, {"layers": 2}, 0, None, 0.3, f"training diverged {hostile}"
        )
    )
    return SearchResult(tuple(trials), "0", 12.5)


def _context(kind: str, hostile: str = SCRIPT) -> ReportContext:
    """A complete context for `kind`, with `hostile` in every user-controlled string."""
    rng = np.random.default_rng(0)
    n = 40
    if kind == "regression":
        task = Task("regression")
        y = rng.normal(50, 10, n)
        predictions = {
            s: Predictions(y, y + rng.normal(0, 3, n)) for s in ("train", "validation", "test")
        }
    else:
        k = 2 if kind == "binary" else 3
        task = Task(kind, (hostile, IMG, "c$x$")[:k])
        y = np.arange(n) % k
        proba = np.full((n, k), 0.1 / (k - 1))
        proba[np.arange(n), y] = 0.9
        proba[::7] = proba[::7, ::-1]  # a few mistakes
        predictions = {
            s: Predictions(y, proba.argmax(1), proba) for s in ("train", "validation", "test")
        }
    evaluation = evaluate(task, predictions)
    naive_loss = 100.0 if kind == "regression" else float(np.log(task.n_classes))
    baselines = {
        name: {
            split: {**evaluation.metrics["test"], "loss": loss}
            for split in ("train", "validation", "test")
        }
        for name, loss in (
            ("naive", naive_loss),
            ("linear", naive_loss / 2),
            ("gradient_boosting", naive_loss / 3),
        )
    }
    search = _search(hostile)
    diagnosis = diagnose(task, evaluation.metrics, baselines, search.best, patience=10, epochs=100)
    return ReportContext(
        source=f"{hostile}.csv",
        task=task,
        target=f"price {hostile}",
        n_rows={"train": 28, "validation": 6, "test": 6},
        feature_columns=("carat", hostile, IMG),
        search=search,
        best_hyperparameters=search.best.hyperparameters,
        evaluation=evaluation,
        baselines=baselines,
        diagnosis=diagnosis,
        dropped_columns={f"id {hostile}": f"an identifier {hostile}"},
        warnings=(f"3 rows dropped {hostile}",),
        config={
            "tuner": "bayesian",
            "max_trials": 6,
            "epochs": 100,
            "patience": 10,
            "seed": 0,
            "space": hostile,
        },
        trial_diagnoses={t.trial_id: diagnose_trial(t, patience=10) for t in search.trials},
        timings={"search": 12.5, "total": 14.0},
        exported_model="model/model.keras",
        versions={"keras": "3.15.1", hostile: "1.0"},
        created="2025-01-01 12:00",
    )


@pytest.fixture(scope="module")
def pages() -> dict[str, str]:
    """Each task's page, rendered once for the module."""
    return {kind: render_report(_context(kind)) for kind in KINDS}


@pytest.mark.parametrize("kind", KINDS)
def test_every_section_is_present(pages, kind):
    page = pages[kind]
    for section in SECTIONS:
        assert f'id="{section}"' in page, section
    assert page.count("<svg") == (7 if kind == "binary" else 6)
    figures = {
        "binary": ("confusion-", "roc-"),
        "multiclass": ("confusion-",),
        "regression": ("residuals-",),
    }[kind]
    for prefix in figures:
        assert f'id="{prefix}' in page  # ids are prefixed with the figure's name
    assert ("roc-" in page) == (kind == "binary")
    assert f">{_context(kind).diagnosis.verdict}<" in page


@pytest.mark.parametrize("kind", KINDS)
def test_plots_drawn_elsewhere_make_the_same_page(pages, kind):
    """The pipeline draws the search's plots in another process and the model's here: the two
    sets together are every plot of the page, byte for byte."""
    context = _context(kind)
    searched = search_figures(context.search, context.seed)
    drawn = model_figures(context.task, context.search.best, context.evaluation)
    assert not searched.keys() & drawn.keys()
    assert render_report(context, {**searched, **drawn}) == pages[kind]


@pytest.mark.parametrize("kind", KINDS)
def test_user_strings_are_escaped_everywhere(pages, kind):
    page = pages[kind]
    lowered = page.lower()
    assert "<script" not in lowered
    assert "<img" not in lowered
    assert "onerror=alert" not in lowered.replace("&#34;&gt;&lt;img src=x onerror=alert", "")
    assert page.count("&lt;script&gt;alert(1)&lt;/script&gt;") >= 8


@pytest.mark.parametrize("kind", KINDS)
def test_page_is_self_contained(pages, kind):
    page = pages[kind]
    urls = set(re.findall(r"https?://[^\s\"'<>)]+", page)) - set(_NAMESPACES)
    assert urls == set()
    assert not re.search(r"<(link|script|iframe|object|embed|img)\b", page, re.IGNORECASE)
    assert "default-src 'none'" in page  # the browser refuses any load, even an injected one
    assert "@media print" in page


def test_failed_trial_reason_and_metrics_are_shown(pages):
    page = pages["binary"]
    assert "training diverged &lt;script&gt;" in page
    assert "naive · test" in page and "gradient boosting · test" in page
    assert ">0.6931<" in page  # the naive log loss of two balanced classes


def test_checked_svg_refuses_anything_but_drawing():
    svg_ns = 'xmlns="http://www.w3.org/2000/svg"'
    with pytest.raises(ValueError, match="script"):
        report_html._checked_svg(f"<svg {svg_ns}><script>alert(1)</script></svg>")
    with pytest.raises(ValueError, match="onload"):
        report_html._checked_svg(f'<svg {svg_ns}><g onload="alert(1)"></g></svg>')
    assert report_html._checked_svg(f"<svg {svg_ns}><text>&lt;b&gt;</text></svg>")


@pytest.mark.skipif(shutil.which("chromium") is None, reason="chromium is not installed")
def test_page_loads_in_headless_chromium_without_console_messages(tmp_path, pages):
    path = tmp_path / "report.html"
    path.write_text(pages["binary"], encoding="utf-8")
    result = subprocess.run(
        [
            shutil.which("chromium"),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={tmp_path / 'profile'}",
            "--enable-logging=stderr",
            "--v=0",
            "--dump-dom",
            path.resolve().as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "HOME": str(tmp_path)},
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert 'id="report-end"' in result.stdout  # the whole page was parsed
    assert result.stdout.count("<svg") == 7
    assert "<script" not in result.stdout.lower()
    # Console messages (script errors, blocked loads, CSP violations) are logged as CONSOLE.
    console = [line for line in result.stderr.splitlines() if ":CONSOLE" in line]
    assert console == []
