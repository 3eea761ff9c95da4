"""The tuners' own bookkeeping: which epoch's weights are kept, the console's time left."""

from __future__ import annotations

from tuning.search.tuners import _duration, kept_epoch


def test_kept_epoch_skips_non_finite_losses():
    history = {"val_loss": [0.5, float("nan"), 0.3, float("inf")]}
    assert kept_epoch(history, early_stopping=True) == 3
    assert kept_epoch({"val_loss": [float("nan")]}, early_stopping=True) is None
    assert kept_epoch(history, early_stopping=False) == 4


def test_time_left_reads_naturally():
    assert [_duration(s) for s in (4.6, 59.4, 185, 3725)] == [
        "5 s", "59 s", "3 min 05 s", "1 h 02 min"]
