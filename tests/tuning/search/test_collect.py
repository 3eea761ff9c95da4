"""A trial's record as trials.csv and the report see it."""

from __future__ import annotations

import keras_tuner as kt

from tuning.search.collect import trial_record


def _trial(trial_id: str, **values) -> kt.engine.trial.Trial:
    hps = kt.HyperParameters()
    for name, value in values.items():
        hps.Fixed(name, value)
    trial = kt.engine.trial.Trial(hps, trial_id=trial_id, status="COMPLETED")
    trial.score = 0.25
    return trial


def test_a_linear_trial_leaves_its_hidden_layer_settings_blank(tmp_path):
    common = dict(activation="relu", dropout=0.2, l2=1e-4, learning_rate=0.1)
    linear = trial_record(_trial("03", layers=0, **common), tmp_path, {"03": "start"})
    assert "activation" not in linear.hyperparameters and "dropout" not in linear.hyperparameters
    assert linear.hyperparameters == {"layers": 0, "l2": 1e-4, "learning_rate": 0.1}
    deep = trial_record(_trial("04", layers=1, units_0=64, **common), tmp_path, {})
    assert deep.hyperparameters == {"layers": 1, "units_0": 64, **common}
