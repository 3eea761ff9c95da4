"""The run's result in one statement: the exported model's test score next to the best baseline's.

The report's headline and the console's closing `result:` line both come from here, from the
same numbers as metrics.json (`exported_model`, `baselines`), so the page, the console and the
file cannot disagree. It reads whatever was exported (the best trial, a refit, an ensemble) and
shows every other scored entry it carries (e.g. `exported_model.single_best`) beside it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from reports.scores import format_number

# The metric the headline compares, per task: the one people quote for it.
PRIMARY_METRIC = {"binary": "accuracy", "multiclass": "accuracy", "regression": "r2"}
# Metrics where more is better; every other one (loss, rmse, mae) is better lower.
HIGHER_IS_BETTER = frozenset({"accuracy", "auc", "f1_macro", "r2"})
METRIC_NAMES = {
    "loss": "loss",
    "accuracy": "accuracy",
    "auc": "AUC",
    "f1_macro": "macro F1",
    "r2": "R²",
    "rmse": "RMSE",
    "mae": "MAE",
}
BASELINE_NAMES = {
    "naive": "naive baseline",
    "linear": "linear baseline",
    "gradient_boosting": "gradient-boosting baseline",
}
# Differences smaller than this are ties (floating-point noise of the same score).
_TIE = 1e-9


@dataclass(frozen=True)
class Entry:
    """One scored model of the headline's table.

    Attributes:
        key: where it comes from: "exported", an extra key of `exported_model` such as
            "single_best", or a baseline's name.
        label: what the page calls it.
        test: its test metrics.
    """

    key: str
    label: str
    test: Mapping[str, Any]


@dataclass(frozen=True)
class Headline:
    """The result of the run, compared with the baselines on the test split.

    Attributes:
        task_kind: "binary", "multiclass" or "regression".
        metric: the compared metric's key ("accuracy", "r2").
        exported: the exported model.
        extras: other scored entries of `exported_model` (e.g. the single best network next
            to an ensemble), in the order found.
        baselines: the baselines, best first by `metric`.
        difference: exported minus the best baseline in `metric` (positive: the network is
            ahead); None without a baseline.
        outcome: "ahead", "level" or "behind" the best baseline, or "alone" without one.
        test_rows: rows of the test split, when known.
    """

    task_kind: str
    metric: str
    exported: Entry
    extras: tuple[Entry, ...]
    baselines: tuple[Entry, ...]
    difference: float | None
    outcome: str
    test_rows: int | None = None

    @property
    def best_baseline(self) -> Entry | None:
        return self.baselines[0] if self.baselines else None

    @property
    def metric_name(self) -> str:
        return METRIC_NAMES.get(self.metric, self.metric)

    @property
    def columns(self) -> tuple[str, ...]:
        """The test metrics every table row shows: the compared one first."""
        names: list[str] = [self.metric]
        for entry in (self.exported, *self.extras, *self.baselines):
            names += [k for k, v in entry.test.items() if k not in names and _is_number(v)]
        return tuple(names)

    def _score(self, entry: Entry) -> str:
        """`accuracy 0.919` or, for regression, `R² 0.469, RMSE 56.88`."""
        text = f"{self.metric_name} {_value(entry.test.get(self.metric))}"
        if self.task_kind == "regression" and _is_number(entry.test.get("rmse")):
            text += f", RMSE {format_number(entry.test['rmse'])}"
        return text

    @property
    def sentence(self) -> str:
        """The result in plain words, for the top of the report."""
        head = f"The exported model scores test {self._score(self.exported)}"
        best = self.best_baseline
        if best is None or self.difference is None:
            return head + "; no baseline was scored to compare it with."
        amount = f"{abs(self.difference):.3f} {self.metric_name}"
        if self.metric == "accuracy" and self.test_rows:  # accuracy moves in whole rows
            rows = round(abs(self.difference) * self.test_rows)
            amount += f" ({rows} of {self.test_rows} test rows)"
        if self.outcome == "behind":
            return (
                f"{head}: {amount} below the {best.label} ({self._score(best)}). "
                f"The {best.label} is better on the test split."
            )
        if self.outcome == "ahead":
            return (
                f"{head}: {amount} above the best baseline, the {best.label} ({self._score(best)})."
            )
        return f"{head}: the same as the {best.label}."

    def console_line(self) -> str:
        """The console's closing line: the exported model's test score against the best
        baseline's."""
        exported = self.exported.test
        line = f"result: test {self.metric_name} {_value(exported.get(self.metric), 4)}"
        if self.task_kind == "regression" and _is_number(exported.get("rmse")):
            line += f", RMSE {format_number(exported['rmse'])}"
        line += f" for the exported model ({self.exported.label})"
        best = self.best_baseline
        if best is None or self.difference is None:
            return line + "; no baseline to compare with"
        theirs = f"{self.metric_name} {_value(best.test.get(self.metric), 4)}"
        if self.outcome == "level":
            return f"{line}, the same as the {best.label} ({theirs})"
        side = "below" if self.outcome == "behind" else "above"
        return (
            f"{line}, {abs(self.difference):.4f} {self.metric_name} {side} the "
            f"{'best baseline, the ' if side == 'above' else ''}{best.label} ({theirs})"
        )


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _value(value: Any, digits: int = 3) -> str:
    return f"{value:.{digits}f}" if _is_number(value) else "—"


def describe_exported(exported: Mapping[str, Any]) -> str:
    """What was exported, in words, from metrics.json's `exported_model`."""
    kind = str(exported.get("kind", ""))
    trial = exported.get("trial_id")
    lists = ("members", "trial_ids", "trials")
    members = next((exported[k] for k in lists if isinstance(exported.get(k), list)), None)
    if kind == "best_trial":
        return f"the best trial's network, trial {trial}" if trial is not None else "the best trial"
    if kind == "refit":
        of = f"trial {trial}'s configuration" if trial is not None else "the best configuration"
        return f"{of} retrained on train+validation"
    if kind == "ensemble":
        return f"an ensemble of {len(members)} networks" if members else "an ensemble of networks"
    return kind.replace("_", " ") or "the exported model"


def _extras(exported: Mapping[str, Any]) -> tuple[Entry, ...]:
    """Every other scored entry of `exported_model`: a mapping with a "test" mapping."""
    found = []
    for key, value in exported.items():
        if isinstance(value, Mapping) and isinstance(value.get("test"), Mapping):
            label = key.replace("_", " ")
            if value.get("trial_id") is not None:
                label += f" (trial {value['trial_id']})"
            found.append(Entry(key, label, value["test"]))
    return tuple(found)


def make_headline(
    task_kind: str,
    exported: Mapping[str, Any],
    baselines: Mapping[str, Mapping[str, Mapping[str, Any]]],
    test_rows: int | None = None,
) -> Headline:
    """Compare the exported model with every baseline on the test split.

    Args:
        task_kind: "binary", "multiclass" or "regression".
        exported: metrics.json's `exported_model` (its "test" metrics at least).
        baselines: metrics.json's `baselines`: name -> split -> metric -> value.
        test_rows: rows of the test split, for the page. Defaults to None.

    Returns:
        The headline; a baseline ahead by any margin makes the outcome "behind".
    """
    metric = PRIMARY_METRIC.get(task_kind, "loss")
    sign = 1.0 if metric in HIGHER_IS_BETTER else -1.0
    entries = [
        Entry(name, BASELINE_NAMES.get(name, name.replace("_", " ") + " baseline"), scores["test"])
        for name, scores in baselines.items()
        if isinstance(scores.get("test"), Mapping) and _is_number(scores["test"].get(metric))
    ]
    entries.sort(key=lambda e: -sign * e.test[metric])
    mine = Entry("exported", describe_exported(exported), exported.get("test") or {})
    difference, outcome = None, "alone"
    if entries and _is_number(mine.test.get(metric)):
        difference = float(mine.test[metric] - entries[0].test[metric])
        ahead = sign * difference
        outcome = "ahead" if ahead > _TIE else "behind" if ahead < -_TIE else "level"
    return Headline(
        task_kind, metric, mine, _extras(exported), tuple(entries), difference, outcome, test_rows
    )


def result_line(metrics: Mapping[str, Any]) -> str:
    """The console's closing `result:` line, from a metrics.json record."""
    rows = metrics.get("n_rows", {}).get("test")
    return make_headline(
        metrics["task"], metrics.get("exported_model") or {}, metrics.get("baselines") or {}, rows
    ).console_line()
