"""What the pipeline prints about the finished search's outputs."""

from __future__ import annotations

from reports.diagnosis import Diagnosis
from tuning.run.folder import verdict_line


def test_the_verdict_line_joins_the_reasons_without_doubled_punctuation():
    fired = Diagnosis(verdict="underfitting", evidence={}, advice=(), reasons=(
        "U2: the linear baseline fits the training split better (loss 0.154 vs 0.283).",
        "U3: training stopped at epoch 3 while still improving.",
    ))
    assert verdict_line(fired) == (
        "diagnosis: underfitting (U2: the linear baseline fits the training split better "
        "(loss 0.154 vs 0.283); U3: training stopped at epoch 3 while still improving)"
    )
    assert verdict_line(Diagnosis("good fit", {}, ())) == "diagnosis: good fit"
