"""The report's plots: functions that compute the numbers, thin functions that draw them.

Each plot comes as a pair, as in optuna's visualization module: a `*_data` function that
returns plain numbers (tested) and a `draw_*` function that draws them on a matplotlib `Axes`
(smoke-tested). The figure plumbing is in `reports.figures`, the pairs by theme in
`reports.curve_plots`, `reports.search_plots` and `reports.prediction_plots`; every public name
is importable from here.

Every label that may come from user data (class labels, hyperparameter values) is drawn with
`parse_math=False`, so a `$` in a column name is printed rather than read as mathtext.
"""

from __future__ import annotations

from reports.curve_plots import (
    LearningCurves,
    TrialCurves,
    draw_learning_curves,
    draw_trial_curves,
    learning_curves_data,
    trial_curves_data,
)
from reports.figures import (
    BEST_COLOR,
    MAX_LABEL_CHARS,
    MUTED_COLOR,
    TRAIN_COLOR,
    VALIDATION_COLOR,
    figure_to_svg,
    new_figure,
    style,
)
from reports.prediction_plots import (
    ConfusionData,
    ResidualData,
    RocData,
    confusion_data,
    draw_confusion,
    draw_predicted_vs_actual,
    draw_residuals,
    draw_roc,
    residual_data,
    roc_data,
)
from reports.search_plots import (
    LOG_SCALE_HYPERPARAMETERS,
    MIN_TRIALS_FOR_IMPORTANCE,
    HyperparameterScores,
    SearchHistory,
    draw_hyperparameter_scores,
    draw_importance,
    draw_search_history,
    hyperparameter_importance_data,
    hyperparameter_scores_data,
    search_history_data,
)

__all__ = [
    "BEST_COLOR",
    "LOG_SCALE_HYPERPARAMETERS",
    "MAX_LABEL_CHARS",
    "MIN_TRIALS_FOR_IMPORTANCE",
    "MUTED_COLOR",
    "TRAIN_COLOR",
    "VALIDATION_COLOR",
    "ConfusionData",
    "HyperparameterScores",
    "LearningCurves",
    "ResidualData",
    "RocData",
    "SearchHistory",
    "TrialCurves",
    "confusion_data",
    "draw_confusion",
    "draw_hyperparameter_scores",
    "draw_importance",
    "draw_learning_curves",
    "draw_predicted_vs_actual",
    "draw_residuals",
    "draw_roc",
    "draw_search_history",
    "draw_trial_curves",
    "figure_to_svg",
    "hyperparameter_importance_data",
    "hyperparameter_scores_data",
    "learning_curves_data",
    "new_figure",
    "residual_data",
    "roc_data",
    "search_history_data",
    "style",
    "trial_curves_data",
]
