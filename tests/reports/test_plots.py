"""Plot data (numbers asserted) and drawing (smoke-tested), and SVG output."""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ElementTree

import numpy as np
import pytest
from sklearn import metrics as skm

from common.records import SearchResult, TrialRecord
from data.task import Task
from reports import figures, plots
from reports.evaluation import Predictions
from reports.scores import ScoreScale

HOSTILE = "<script>alert(1)</script>"


def _trial(trial_id, score, hp, val=None, status="COMPLETED", message=""):
    val = val if val is not None else ([score + 0.2, score + 0.1, score] if score else [])
    history = (
        {
            "loss": [v - 0.05 for v in val],
            "val_loss": val,
            "accuracy": [0.8] * len(val),
            "val_accuracy": [0.7] * len(val),
        }
        if val
        else {}
    )
    return TrialRecord(
        trial_id, status, score, hp, len(val), len(val) or None, 1.0, message, history
    )


def _search(*trials, best=None):
    return SearchResult(tuple(trials), best, 10.0)


# ---------------------------------------------------------------------------------------------
# Data


def test_learning_curves_put_loss_first_and_pair_train_with_validation():
    record = TrialRecord(
        "0",
        "COMPLETED",
        0.3,
        {},
        3,
        2,
        history={
            "val_accuracy": [0.5, 0.6, 0.6],
            "accuracy": [0.5, 0.7, 0.8],
            "val_loss": [0.6, 0.3, 0.4],
            "loss": [0.7, 0.4, 0.2],
            "lr": [0.1, 0.1, 0.1],
        },
    )
    curves = plots.learning_curves_data(record)
    assert list(curves.train) == ["loss", "accuracy"]  # "lr" has no validation twin
    np.testing.assert_array_equal(curves.epochs, [1, 2, 3])
    np.testing.assert_array_equal(curves.validation["loss"], [0.6, 0.3, 0.4])
    assert curves.best_epoch == 2


def test_trial_curves_skip_failed_trials_and_clip_at_the_95th_percentile():
    diverging = [0.5, 50.0, 500.0]
    result = _search(
        _trial("0", 0.3, {}),
        _trial("1", 0.5, {}, val=diverging),
        _trial("2", None, {}, status="FAILED"),
        best="0",
    )
    data = plots.trial_curves_data(result)
    assert list(data.curves) == ["0", "1"]
    values = np.array([0.5, 0.4, 0.3, 0.5, 50.0, 500.0])
    low, high = data.y_limits
    assert low < 0.3 < high
    assert high < 500.0  # the diverging epoch is cut off
    assert high == pytest.approx(
        np.percentile(values, 95) + 0.05 * (np.percentile(values, 95) - 0.3)
    )


def test_search_history_best_so_far_ignores_failures():
    result = _search(
        _trial("00", None, {}, status="FAILED"),
        _trial("01", 0.5, {}),
        _trial("02", 0.7, {}),
        _trial("03", 0.2, {}),
    )
    data = plots.search_history_data(result)
    # The x axis is Keras Tuner's trial id, the number the console and trials.csv show.
    np.testing.assert_array_equal(data.numbers, [0, 1, 2, 3])
    assert math.isnan(data.scores[0])
    np.testing.assert_array_equal(data.best_so_far[1:], [0.5, 0.5, 0.2])
    assert math.isnan(data.best_so_far[0])


def test_clip_limits_cut_off_only_outliers_that_would_flatten_the_rest():
    scores = [0.31, 0.29, 0.35, 0.4, 0.33, 0.38, 69.8]  # one diverging trial
    low, high = figures.clip_limits(scores)
    assert low < 0.29 and 0.4 < high < 1.0
    assert figures.clip_limits([0.31, 0.29, 0.35, 0.4, 0.33, 0.38, 0.6]) is None  # a mild one
    # Far above the quartiles, but the others already span a third of the axis: kept.
    assert figures.clip_limits([0.05, 0.30, 0.31, 0.32, 0.33, 0.5]) is None
    assert figures.clip_limits([0.25, 0.30, 0.31, 0.32, 0.33, 0.5]) is not None
    assert figures.clip_limits([0.3, 0.4, 69.8]) is None  # too few to tell an outlier


def test_an_outlier_trial_is_clipped_and_marked_in_the_history_and_every_hyperparameter():
    trials = [
        _trial(str(i), score, {"dropout": 0.1 * i, "activation": ["relu", "tanh"][i % 2]})
        for i, score in enumerate([0.31, 0.29, 0.35, 0.4, 69.8, 0.33])
    ]
    result = _search(*trials, best="1")
    history = plots.search_history_data(result)
    assert history.y_limits is not None and history.y_limits[1] < 1.0
    scores = plots.hyperparameter_scores_data(result)
    assert {d.name for d in scores} == {"dropout", "activation"}
    assert all(d.y_limits == history.y_limits for d in scores)  # one shared, clipped axis
    with plots.style():
        for draw, data in [(plots.draw_search_history, history)] + [
            (plots.draw_hyperparameter_scores, d) for d in scores
        ]:
            fig, ax = plots.new_figure()
            draw(ax, data)
            assert ax.get_ylim()[1] == pytest.approx(history.y_limits[1])
            marked = [line for line in ax.lines if line.get_marker() == "^"]
            assert len(marked) == 1 and marked[0].get_ydata()[0] == pytest.approx(
                history.y_limits[1]
            )
            assert "69.8" in [t.get_text() for t in ax.texts]  # its value is written
            fig.clear()


def test_regression_scores_read_as_rmse_in_the_target_units():
    scale = ScoreScale.for_task("regression", 200.0)
    result = _search(_trial("0", 0.25, {"dropout": 0.1}), _trial("1", 0.64, {"dropout": 0.2}))
    history = plots.search_history_data(result, scale)
    np.testing.assert_allclose(history.scores, [100.0, 160.0])  # sqrt(MSE) x sigma
    assert history.label == "validation RMSE"
    (dropout,) = plots.hyperparameter_scores_data(result, scale)
    np.testing.assert_allclose(dropout.scores, [100.0, 160.0])
    curves = plots.trial_curves_data(result, scale)
    np.testing.assert_allclose(curves.curves["0"], np.sqrt([0.45, 0.35, 0.25]) * 200.0)
    learning = plots.learning_curves_data(result.trials[0], scale)
    assert list(learning.train) == ["RMSE", "accuracy"]
    classification = plots.search_history_data(result, ScoreScale.for_task("binary", 200.0))
    np.testing.assert_allclose(classification.scores, [0.25, 0.64])  # log loss as it is


def test_hyperparameter_scores_kinds_scales_and_constant_ones_left_out():
    result = _search(
        _trial(
            "0",
            0.3,
            {"learning_rate": 1e-3, "activation": "relu", "batch_size": 32, "units_1": None},
        ),
        _trial(
            "1", 0.4, {"learning_rate": 1e-2, "activation": "tanh", "batch_size": 32, "units_1": 64}
        ),
        _trial(
            "2", 0.2, {"learning_rate": 1e-4, "activation": "relu", "batch_size": 32, "units_1": 32}
        ),
    )
    data = {d.name: d for d in plots.hyperparameter_scores_data(result)}
    assert set(data) == {"learning_rate", "activation", "units_1"}  # batch_size is constant
    assert data["learning_rate"].numeric and data["learning_rate"].log_scale
    assert not data["activation"].numeric
    assert data["activation"].categories == ("relu", "tanh")
    np.testing.assert_array_equal(data["activation"].scores, [0.3, 0.4, 0.2])
    assert data["units_1"].values == (64, 32)  # inactive in trial 0
    assert not data["units_1"].log_scale


def test_importance_finds_the_hyperparameter_that_decides_the_score():
    rng = np.random.default_rng(0)
    trials = []
    for i in range(24):
        lr = float(10 ** rng.uniform(-4, -1))
        hp = {
            "learning_rate": lr,
            "dropout": float(rng.uniform(0, 0.5)),
            "activation": str(rng.choice(["relu", "tanh"])),
            "batch_size": 32,
        }
        trials.append(_trial(str(i), abs(math.log10(lr) + 2.5), hp))
    importance = plots.hyperparameter_importance_data(_search(*trials), seed=0)
    assert list(importance)[0] == "learning_rate"
    assert importance["learning_rate"] > 0.6
    assert sum(importance.values()) == pytest.approx(1.0)
    assert "batch_size" not in importance  # constant


def test_importance_needs_three_completed_trials():
    result = _search(
        _trial("0", 0.3, {"dropout": 0.1}),
        _trial("1", 0.4, {"dropout": 0.2}),
        _trial("2", None, {"dropout": 0.3}, status="FAILED"),
    )
    assert plots.hyperparameter_importance_data(result) == {}


def test_confusion_counts_include_classes_never_predicted():
    task = Task("multiclass", ("a", "b", "c"))
    predictions = Predictions(
        np.array([0, 0, 1, 2, 2, 2]), np.array([0, 1, 1, 1, 2, 2]), np.full((6, 3), 1 / 3)
    )
    data = plots.confusion_data(task, predictions)
    # Text labels go by their rows in the split, largest first: c (3), a (2), b (1).
    assert data.labels == ("c", "a", "b")
    np.testing.assert_array_equal(data.counts, [[2, 0, 1], [0, 1, 1], [0, 0, 1]])
    np.testing.assert_allclose(data.recall, [2 / 3, 1 / 2, 1.0])
    np.testing.assert_allclose(data.precision, [1.0, 1.0, 1 / 3])
    assert "largest first" in data.order


def test_confusion_keeps_the_natural_order_of_numbers_and_of_two_classes():
    predictions = Predictions(np.array([0, 1, 1, 2, 2, 2]), np.array([0, 1, 1, 2, 2, 0]))
    numbers = plots.confusion_data(Task("multiclass", (1, 5, 7)), predictions)
    assert numbers.labels == ("1", "5", "7") and "natural" in numbers.order
    two = Predictions(np.array([0, 1, 1, 1]), np.array([0, 1, 1, 0]))
    binary = plots.confusion_data(Task("binary", ("no", "yes")), two)
    assert binary.labels == ("no", "yes")  # the ROC curve's positive class stays second
    nobody = plots.confusion_data(Task("binary", ("no", "yes")), Predictions(
        np.array([0, 0]), np.array([0, 0])))
    assert math.isnan(nobody.recall[1]) and math.isnan(nobody.precision[1])


def test_confusion_shows_counts_recall_precision_and_accuracy():
    task = Task("multiclass", ("a", "b", "c"))
    predictions = Predictions(np.array([0, 0, 1, 2, 2, 2]), np.array([0, 1, 1, 1, 2, 2]))
    with plots.style():
        fig, ax = plots.new_figure()
        plots.draw_confusion(ax, plots.confusion_data(task, predictions))
        texts = [t.get_text() for t in ax.texts]
        ticks = [t.get_text() for t in ax.get_xticklabels()]
        fig.clear()
    assert "2\n67%" in texts  # c's count and its share of c's rows
    assert {"67%", "50%", "100%", "33%"} <= set(texts)  # recall and precision
    assert "accuracy\n67%" in texts
    assert ticks[-1] == "recall"


def test_roc_matches_sklearn_and_is_none_for_one_class():
    task = Task("binary", ("neg", "pos"))
    y = np.array([0, 0, 1, 1, 0, 1])
    p = np.array([0.1, 0.4, 0.35, 0.8, 0.2, 0.9])
    data = plots.roc_data(task, Predictions(y, (p > 0.5).astype(int), np.column_stack([1 - p, p])))
    assert data.auc == pytest.approx(skm.roc_auc_score(y, p))
    assert data.positive_label == "pos"
    one = Predictions(np.zeros(3, int), np.zeros(3, int), np.full((3, 2), 0.5))
    assert plots.roc_data(task, one) is None


def test_residuals_are_actual_minus_predicted_with_shared_limits():
    data = plots.residual_data(Predictions(np.array([1.0, 2.0, 4.0]), np.array([1.5, 2.0, 3.0])))
    np.testing.assert_allclose(data.residuals, [-0.5, 0.0, 1.0])
    low, high = data.limits
    assert low < 1.0 and high > 4.0
    assert data.n_rows == data.n_shown == 3


def test_point_plots_draw_at_most_max_points_of_a_million_rows():
    rng = np.random.default_rng(0)
    y = rng.normal(size=1_000_000)
    data = plots.residual_data(Predictions(y, y + rng.normal(0, 0.1, y.size)))
    assert data.n_rows == 1_000_000 and data.n_shown == figures.MAX_POINTS
    np.testing.assert_allclose(data.residuals, data.actual - data.predicted)
    assert data.limits[0] < y.min() and data.limits[1] > y.max()  # from every row
    labels = (rng.random(y.size) < 0.4).astype(int)
    p = np.clip(labels * 0.3 + rng.random(y.size) * 0.7, 0, 1)
    task = Task("binary", ("a", "b"))
    proba = np.column_stack([1 - p, p])
    roc = plots.roc_data(task, Predictions(labels, (p > 0.5).astype(int), proba))
    assert len(roc.fpr) <= figures.MAX_POINTS
    assert roc.auc == pytest.approx(skm.roc_auc_score(labels, p))  # from the whole curve
    assert (roc.fpr[0], roc.tpr[0], roc.fpr[-1], roc.tpr[-1]) == (0.0, 0.0, 1.0, 1.0)


# ---------------------------------------------------------------------------------------------
# Drawing and SVG


def _all_draws():
    result = _search(
        _trial("0", 0.3, {"learning_rate": 1e-3, "activation": HOSTILE, "dropout": 0.1}),
        _trial("1", 0.5, {"learning_rate": 1e-2, "activation": "tanh", "dropout": 0.2}),
        _trial("2", 0.4, {"learning_rate": 1e-4, "activation": "relu", "dropout": 0.0}),
        _trial("3", None, {"learning_rate": 1e-1}, status="FAILED", message="diverged"),
        best="0",
    )
    task = Task("binary", (HOSTILE, "b$x$"))
    p = np.array([0.2, 0.7, 0.6, 0.1])
    predictions = Predictions(
        np.array([0, 1, 0, 1]), (p > 0.5).astype(int), np.column_stack([1 - p, p])
    )
    regression = Predictions(np.array([1.0, 2.0, 3.0]), np.array([1.1, 1.8, 3.3]))
    return [
        lambda ax: plots.draw_learning_curves(ax, plots.learning_curves_data(result.best)),
        lambda ax: plots.draw_trial_curves(ax, plots.trial_curves_data(result)),
        lambda ax: plots.draw_search_history(ax, plots.search_history_data(result)),
        lambda ax: plots.draw_hyperparameter_scores(
            ax, plots.hyperparameter_scores_data(result)[1]
        ),
        lambda ax: plots.draw_importance(ax, plots.hyperparameter_importance_data(result)),
        lambda ax: plots.draw_importance(ax, {}),
        lambda ax: plots.draw_confusion(ax, plots.confusion_data(task, predictions)),
        lambda ax: plots.draw_roc(ax, plots.roc_data(task, predictions)),
        lambda ax: plots.draw_predicted_vs_actual(ax, plots.residual_data(regression)),
        lambda ax: plots.draw_residuals(ax, plots.residual_data(regression)),
    ]


@pytest.mark.parametrize("index", range(10))
def test_every_draw_function_renders_to_valid_svg(index):
    with plots.style():
        fig, ax = plots.new_figure()
        _all_draws()[index](ax)
        svg = plots.figure_to_svg(fig, f"figure-{index}")
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    ElementTree.fromstring(svg)  # well-formed XML
    assert not fig.axes  # the figure was released


def test_user_strings_are_escaped_text_in_the_svg():
    task = Task("binary", (HOSTILE, "b$x$"))
    predictions = Predictions(np.array([0, 1]), np.array([0, 1]), np.eye(2))
    with plots.style():
        fig, ax = plots.new_figure()
        plots.draw_confusion(ax, plots.confusion_data(task, predictions))
        svg = plots.figure_to_svg(fig, "confusion")
    assert "<script" not in svg.lower()
    assert "&lt;script&gt;" in svg
    texts = [el.text for el in ElementTree.fromstring(svg).iter() if el.tag.endswith("text")]
    assert any(t and t.startswith("<script>alert(1)") for t in texts)  # parsed back: literal
    assert "b$x$" in texts  # a dollar sign is printed, not read as mathtext


def test_svg_ids_differ_between_figures_and_repeat_for_the_same_figure():
    def render(name):
        with plots.style():
            fig, ax = plots.new_figure()
            ax.plot([0, 1], [0, 1])
            return plots.figure_to_svg(fig, name)

    assert render("a") == render("a")
    ids_a = {el.get("id") for el in ElementTree.fromstring(render("a")).iter() if el.get("id")}
    ids_b = {el.get("id") for el in ElementTree.fromstring(render("b")).iter() if el.get("id")}
    assert ids_a and not ids_a & ids_b
    svg = render("a")
    references = set(re.findall(r'url\(#([^)]+)\)|href="#([^"]+)"', svg))
    assert references
    assert {ref for pair in references for ref in pair if ref} <= ids_a  # all resolve


def test_one_epoch_curves_are_drawn_as_dots_on_an_integer_axis():
    record = _trial("0", 0.3, {}, val=[0.3])
    with plots.style():
        fig, (left, right) = plots.new_figure(ncols=2)
        plots.draw_learning_curves(left, plots.learning_curves_data(record))
        plots.draw_trial_curves(right, plots.trial_curves_data(_search(record, best="0")))
        fig.canvas.draw()
        for ax in (left, right):
            assert all(line.get_marker() == "o" for line in ax.lines if line.get_label()
                       in ("training", "validation", "best trial"))
            assert [t for t in ax.get_xticks() if ax.get_xlim()[0] <= t <= ax.get_xlim()[1]] \
                == [1.0]
        fig.clear()
