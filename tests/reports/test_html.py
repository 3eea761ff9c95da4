"""The HTML report: every section for every task, escaping of user strings, a clean page load."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import re

import numpy as np
import pytest

from common.records import SearchResult, TrialRecord
from data.task import Task
from reports import evidence as evidence_names
from reports import html as report_html
from reports.diagnosis import diagnose, diagnose_trial
from reports.evaluation import Evaluation, Predictions, evaluate
from reports.figures import MAX_POINTS
from reports.html import (
    ReportContext,
    model_figures,
    render_report,
    search_figures,
)
from reports.scores import ScoreScale

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
        score_scale=ScoreScale.for_task(kind, 10.0),
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
    searched = search_figures(context.search, context.seed, context.score_scale)
    drawn = model_figures(
        context.task, context.search.best, context.evaluation, context.score_scale
    )
    assert not searched.keys() & drawn.keys()
    assert render_report(context, {**searched, **drawn}) == pages[kind]


def _scripts(page: str) -> list[str]:
    return re.findall(r"<script\b[^>]*>(.*?)</script>", page, re.IGNORECASE | re.DOTALL)


@pytest.mark.parametrize("kind", KINDS)
def test_user_strings_are_escaped_everywhere(pages, kind):
    page = pages[kind]
    lowered = page.lower()
    # The page's own sorting script is its only script element; every user string is text.
    assert lowered.count("<script") == 1
    assert _scripts(page) == [report_html.SORT_SCRIPT]
    assert "<img" not in lowered
    assert "onerror=alert" not in lowered.replace("&#34;&gt;&lt;img src=x onerror=alert", "")
    assert page.count("&lt;script&gt;alert(1)&lt;/script&gt;") >= 8


@pytest.mark.parametrize("kind", KINDS)
def test_page_is_self_contained(pages, kind):
    page = pages[kind]
    urls = set(re.findall(r"https?://[^\s\"'<>)]+", page)) - set(_NAMESPACES)
    assert urls == set()
    assert not re.search(r"<(link|iframe|object|embed|img)\b", page, re.IGNORECASE)
    assert not re.search(r"<script\b[^>]*\bsrc=", page, re.IGNORECASE)
    assert "default-src 'none'" in page  # the browser refuses any load, even an injected one
    assert "@media print" in page


def test_the_one_script_is_allowed_by_its_own_hash_only(pages):
    """The CSP names the SHA-256 of the script's exact text, and nothing else may run."""
    page = pages["binary"]
    policy = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', page).group(1)
    (script,) = _scripts(page)
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    assert f"script-src 'sha256-{digest}'" in policy
    assert "unsafe-inline" not in policy.split("script-src")[1]
    assert re.findall(r"'sha256-", policy) == ["'sha256-"]


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


# ---------------------------------------------------------------------------------------------
# The headline, the trials table, the evidence, the page's size


def _section(page: str, name: str) -> str:
    start = page.index(f'<section id="{name}"')
    return page[start : page.index("</section>", start)]


@pytest.mark.parametrize("kind", KINDS)
def test_headline_states_the_result_and_every_warning_at_the_top(pages, kind):
    context = _context(kind)
    page = pages[kind]
    top = _section(page, "result")
    assert page.index('id="result"') < page.index('id="summary"')
    headline = report_html.make_headline(
        kind, report_html._exported(context), context.baselines, context.n_rows["test"]
    )
    assert str(report_html.escape(headline.sentence)) in top
    warnings = [*context.warnings, *context.diagnosis.warnings]
    assert context.warnings and (kind != "binary" or context.diagnosis.warnings)
    for warning in warnings:
        assert str(report_html.escape(warning)) in top
    assert f">{context.diagnosis.verdict}<" in top


def test_a_winning_baseline_takes_the_green_light_off_the_verdict():
    context = _context("binary")
    context = dataclasses.replace(
        context, diagnosis=dataclasses.replace(context.diagnosis, verdict="good fit")
    )
    behind = dataclasses.replace(
        context, exported={"kind": "best_trial", "trial_id": "0", "test": {"accuracy": 0.5}}
    )
    page = render_report(behind, {})
    top = _section(page, "result")
    assert "verdict behind" in top and "below the naive baseline" in top
    assert 'class="verdict good-fit outline"' in top
    assert 'class="verdict good-fit"' not in page  # never green alone while a baseline wins
    ahead = dataclasses.replace(
        context, exported={"kind": "best_trial", "trial_id": "0", "test": {"accuracy": 1.0}}
    )
    page = render_report(ahead, {})
    assert 'class="verdict good-fit"' in page and "verdict ahead" in page


def test_an_ensemble_and_its_single_best_are_shown_next_to_the_baselines():
    context = dataclasses.replace(
        _context("multiclass"),
        exported={
            "kind": "ensemble",
            "members": ["0", "1"],
            "test": {"loss": 0.2, "accuracy": 0.95},
            "single_best": {"trial_id": "0", "test": {"loss": 0.3, "accuracy": 0.9}},
        },
    )
    top = _section(render_report(context, {}), "result")
    assert "exported model: an ensemble of 2 trials" in top
    assert "single best (trial 0)" in top and ">0.95<" in top and ">0.9<" in top


@pytest.mark.parametrize("kind", KINDS)
def test_trials_table_has_a_sortable_column_per_hyperparameter(pages, kind):
    context = _context(kind)
    table = pages[kind][pages[kind].index('id="trials-table"') :]
    table = table[: table.index("</table>")]
    headers = [
        h.replace("<wbr>", "")  # a line may break after an underscore
        for h in re.findall(r'<th scope="col"[^>]*><button type="button">(.*?)</button>', table)
    ]
    names = ["layers", "units_0", "activation", "learning_rate", "l2", "dropout"]
    assert headers[-len(names) :] == names
    assert headers[:3] == ["trial", "status", "objective"]
    assert ("val RMSE" in headers) == (kind == "regression")
    rows = re.findall(r"<tr class=\"[^\"]*\">(.*?)</tr>", table, re.DOTALL)
    assert len(rows) == len(context.search.trials)
    # Numbers sort as numbers: each cell carries its raw value.
    learning_rates = [re.findall(r'data-sort="([^"]*)"', row)[-3] for row in rows]
    assert learning_rates[:3] == ["0.01", "0.001", "0.0001"]
    assert learning_rates[-1] == ""  # the failed trial did not use it: sorted last
    # The best trial has one verdict on the page: the diagnosis's, not a curves-only one.
    best = next(row for row in rows if "· best" in row)
    assert f"{context.diagnosis.verdict}: the diagnosis above" in best


def test_evidence_is_named_in_plain_words(pages):
    page = pages["binary"]
    evidence = page[page.index('id="evidence"') : page.index("</dl>", page.index('id="evidence"'))]
    labels = re.findall(r"<dt>([^<]*)</dt>", evidence)
    for internal in ("excess gap", "train drop last window", "val min epoch", "gap"):
        assert internal not in labels
    assert "training loss change over the last 5 epochs" in labels
    keys = {key for kind in KINDS for key in _context(kind).diagnosis.evidence}
    assert keys <= set(evidence_names.NAMES)


def test_a_million_row_report_stays_small():
    """The test split's plots subsample, so a 1,000,000-row run's page stays under 3 MB."""
    rng = np.random.default_rng(0)
    n = 1_000_000
    sizes = {}
    for kind in ("binary", "regression"):
        context = _context(kind)
        if kind == "regression":
            y = rng.normal(50, 10, n)
            test = Predictions(y, y + rng.normal(0, 3, n))
        else:
            y = (rng.random(n) < 0.4).astype(int)
            p = np.clip(0.35 * y + 0.65 * rng.random(n), 0, 1)
            test = Predictions(y, (p > 0.5).astype(int), np.column_stack([1 - p, p]))
        evaluation = Evaluation(
            context.evaluation.metrics, {**context.evaluation.predictions, "test": test}
        )
        context = dataclasses.replace(context, evaluation=evaluation)
        searched = search_figures(context.search, 0, context.score_scale)  # as in the pipeline
        drawn = model_figures(context.task, context.search.best, evaluation, context.score_scale)
        page = render_report(context, {**searched, **drawn})
        sizes[kind] = len(page.encode())
        if kind == "regression":
            assert f"{MAX_POINTS:,} of the {n:,} test rows are drawn" in page
    print(sizes)
    assert max(sizes.values()) < 3_000_000, sizes


def test_trials_table_columns_come_in_trials_csv_order():
    from reports.trials_table import trials_table
    from tuning.search.collect import trials_csv

    hp = {"dropout": 0.1, "batch_size": 32, "units_1": 8, "optimizer": "adam", "l2": 1e-4,
          "units_0": 16, "learning_rate": 1e-3, "activation": "relu", "layers": 2, "extra": 1}
    search = SearchResult((TrialRecord("0", "COMPLETED", 0.5, hp),), "0", 1.0)
    header = trials_csv(search).splitlines()[0].split(",")
    columns = trials_table(search, ScoreScale(), {})["hyperparameters"]
    assert columns == header[header.index("score") + 1:header.index("epochs")]


def test_regression_captions_name_the_scale_scores_are_on():
    """Defect: with a log1p target every caption said RMSE 'in the target's units'; the trial
    scores and curves are on the learned scale."""

    import html

    context = _context("regression")
    page = html.unescape(render_report(context))
    assert "validation RMSE in the target's units" in page
    logged = html.unescape(render_report(dataclasses.replace(
        context, score_scale=ScoreScale.for_task("regression", 10.0, "log"))))
    assert "validation RMSE on the log1p(target) scale" in logged
    assert "RMSE and MAE on the log1p(target) scale" in logged
    assert "in the target's units, a little above" not in logged
    assert "without the L2/L1 penalties" in page and "L2 penalty included" not in page
    assert "Baselines are fit on the training split." in page  # no fold scores: one split
