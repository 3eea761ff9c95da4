"""The headline and the console's lines: the exported model against the best baseline, trial
ids, and regression scores in the target's units."""

from __future__ import annotations

import pytest

from reports.console import trial_line
from reports.headline import make_headline, result_line
from reports.scores import ScoreScale, format_number


def _baselines(**test_scores: dict) -> dict:
    return {name: {"train": {}, "validation": {}, "test": s} for name, s in test_scores.items()}


BREAST_CANCER = _baselines(
    naive={"loss": 0.66, "accuracy": 0.6279, "auc": 0.5},
    linear={"loss": 0.1139, "accuracy": 83 / 86, "auc": 0.9884},
    gradient_boosting={"loss": 0.2014, "accuracy": 0.9535, "auc": 0.9867},
)
EXPORTED = {"kind": "best_trial", "trial_id": "17", "test": {"loss": 0.2026, "accuracy": 79 / 86}}


def test_a_baseline_that_wins_is_named_with_the_difference_in_plain_words():
    headline = make_headline("binary", EXPORTED, BREAST_CANCER, test_rows=86)
    assert headline.outcome == "behind"
    assert headline.best_baseline.key == "linear"
    assert headline.difference == pytest.approx(-4 / 86)
    assert headline.sentence == (
        "The exported model scores test accuracy 0.919: 0.047 accuracy (4 of 86 test rows) "
        "below the linear baseline (accuracy 0.965). The linear baseline is better on the test "
        "split."
    )
    assert [e.key for e in headline.baselines] == ["linear", "gradient_boosting", "naive"]
    assert headline.columns[0] == "accuracy" and "auc" in headline.columns


def test_a_network_ahead_and_one_level_say_so():
    ahead = make_headline(
        "multiclass", {"kind": "best_trial", "test": {"accuracy": 0.99}}, BREAST_CANCER
    )
    assert ahead.outcome == "ahead"
    assert "0.025 accuracy above the best baseline, the linear baseline" in ahead.sentence
    assert "test rows" not in ahead.sentence  # how many rows is not known here
    level = make_headline(
        "binary", {"kind": "best_trial", "test": {"accuracy": 83 / 86}}, BREAST_CANCER
    )
    assert level.outcome == "level" and "the same as the linear baseline" in level.sentence


def test_regression_compares_r2_and_shows_rmse_in_the_target_units():
    baselines = _baselines(
        naive={"loss": 6e8, "rmse": 24_495.0, "r2": -0.001},
        linear={"loss": 4e8, "rmse": 20_000.0, "r2": 0.49},
    )
    exported = {"kind": "refit", "trial_id": "3", "test": {"rmse": 21_000.5, "r2": 0.448}}
    headline = make_headline("regression", exported, baselines)
    assert headline.outcome == "behind"
    assert headline.sentence.startswith(
        "The exported model scores test R² 0.448, RMSE 21,000: 0.042 R² below the linear "
        "baseline (R² 0.490, RMSE 20,000)."
    )
    assert headline.exported.label == "trial 3's configuration retrained on train+validation"


def test_whatever_was_exported_is_shown_with_every_scored_entry_it_carries():
    ensemble = {
        "kind": "ensemble",
        "members": ["3", "7", "11"],
        "test": {"accuracy": 0.97},
        "single_best": {"trial_id": "7", "test": {"accuracy": 0.95}},
    }
    headline = make_headline("binary", ensemble, BREAST_CANCER)
    assert headline.exported.label == "an ensemble of 3 networks"
    assert [(e.key, e.label, e.test["accuracy"]) for e in headline.extras] == [
        ("single_best", "single best (trial 7)", 0.95)
    ]
    assert headline.outcome == "ahead"  # the exported model is what is compared
    unknown = make_headline("binary", {"kind": "distilled", "test": {"accuracy": 0.9}}, {})
    assert unknown.exported.label == "distilled" and unknown.outcome == "alone"
    assert "no baseline" in unknown.sentence


def test_console_result_line_comes_from_metrics_json():
    metrics = {
        "task": "binary",
        "n_rows": {"test": 86},
        "exported_model": EXPORTED,
        "baselines": BREAST_CANCER,
    }
    assert result_line(metrics) == (
        "result: test accuracy 0.9186 for the exported model (the best trial's network, "
        "trial 17), 0.0465 accuracy below the linear baseline (accuracy 0.9651)"
    )
    metrics["exported_model"] = {**EXPORTED, "test": {"accuracy": 0.98}}
    assert result_line(metrics).endswith(
        "0.0149 accuracy above the best baseline, the linear baseline (accuracy 0.9651)"
    )


def test_trial_line_names_the_trial_by_its_id_and_counts_progress_apart():
    line = trial_line("17", "COMPLETED", 0.1807, ("03", 0.15), 1.14, 18, 20, "~11 s left")
    assert line.startswith("trial 17  val_loss 0.1807")
    assert "best 0.1500 (trial 03)" in line
    assert line.endswith("1.1 s   18/20 done   ~11 s left")
    failed = trial_line("4", "FAILED", None, None, None, 5, 20)
    assert failed.split()[:3] == ["trial", "4", "failed"] and "best -" in failed
    assert failed.endswith(" 5/20 done")


def test_regression_trial_lines_read_rmse_in_the_target_units():
    scale = ScoreScale.for_task("regression", 26_500.0)
    line = trial_line("2", "COMPLETED", 0.0624, ("2", 0.0624), 2.0, 3, 8, scale=scale)
    rmse = format_number(0.0624**0.5 * 26_500.0)
    assert f"val RMSE {rmse}" in line and f"best {rmse} (trial 2)" in line
    assert rmse == "6620"


def test_format_number_groups_thousands_and_keeps_small_numbers_readable():
    assert [
        format_number(v) for v in (701_692_103.7, 56.8806, 0.006043, 8.794e-06, 16, 20_000)
    ] == ["701,692,104", "56.88", "0.006043", "8.794e-06", "16", "20,000"]
    assert format_number(None) == "—" and format_number(True) == "yes"
