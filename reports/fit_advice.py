"""The diagnosis's next steps: what to change for each verdict, with the best trial's values."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def next_steps(
    verdict: str,
    hp: Mapping[str, Any],
    patience: int,
    facts: Mapping[str, Any],
    epochs: int,
    weak_data: bool,
    fired: set[str],
    low_signal: bool = False,
    round_epochs: int | None = None,
) -> list[str]:
    """Next steps for the verdict, naming the best trial's values where they are known.

    `weak_data`: no baseline validates much better than the naive one; `low_signal`: nor does
    the network; `round_epochs`: Hyperband gave the best trial these epochs, fewer than --epochs.
    """
    units = [
        hp[k]
        for k in sorted((k for k in hp if k.startswith("units_")), key=lambda k: int(k[6:]))
        if hp[k] is not None
    ]
    shape = ""
    if "layers" in hp and units:
        sizes = ", ".join(map(str, units))
        shape = f" (the best trial has {hp['layers']} hidden layer(s) of {sizes} units)"
    now = {
        k: f" (now {hp[k]:.3g})" if isinstance(hp.get(k), (int, float)) else ""
        for k in ("learning_rate", "l2", "l1", "dropout")
    }
    if verdict == "underfitting":
        capacity = (
            f"Give the network more capacity: more layers or more neurons per layer{shape}; widen "
            "`layers` and `units` in the --space file if the search could not go higher."
        )
        # Only the penalties that are on (none to lower: no step), and adam only where it is
        # not the optimizer already.
        known = [k for k in ("l2", "l1", "dropout") if k in hp]
        on = [f"{k}{now[k]}" for k in known if hp[k]]
        regularize = (f"Regularize less: lower {' and '.join(on)}." if on
                      else "" if known else "Regularize less: lower l2 and dropout.")
        rate = f"Raise the learning rate{now['learning_rate']}" + (
            "." if hp.get("optimizer") == "adam" else " or use the adam optimizer.")
        longer = (
            f"Train longer: raise --epochs (the best trial ran {facts.get('epochs_run', '?')} of "
            f"{epochs})" + (" and was still improving." if "U3" in fired else ".")
        )
        if round_epochs is not None:  # the search's length, not --epochs, cut it short
            longer = (
                f"Train longer: Hyperband gave the best trial {round_epochs} epochs, an early"
                " round's share of --epochs, and ran out of trials before its longer rounds"
                + (" while that trial was still improving" if "U3" in fired else "")
                + ". Raise --max-trials, or use --tuner bayesian or random, which train every "
                "trial for up to --epochs."
            )
        # The step that answers the rule that fired comes first.
        first = [step for rule, step in (("U4", regularize), ("U3", longer))
                 if rule in fired and step]
        steps = first + [s for s in (capacity, regularize, rate, longer) if s and s not in first]
        if facts.get("stopped_by_early_stopping"):
            steps.remove(longer)  # early stopping ended it: more epochs would not be used
        if weak_data:
            steps.append(
                "No baseline does much better than the naive one either: the features may carry "
                "little information about the target. Check the target column and add features "
                "before adding capacity."
            )
        return steps
    if verdict == "overfitting":
        steps = [
            f"Regularize more: raise l2{now['l2']} or dropout{now['dropout']}.",
            f"Use a smaller network: fewer neurons or layers{shape}.",
            "Get more training data, or leave out features that only add noise (--drop).",
        ]
        if patience == 0:
            steps.insert(
                0,
                "Turn early stopping on (e.g. --patience 10): it is off, so training "
                "ran on long after the validation loss stopped improving.",
            )
        else:
            steps.append(
                f"Keep early stopping on (--patience {patience}); a smaller patience "
                "alone will not close the gap, because the best weights are already "
                "restored."
            )
        return steps
    judge = "Judge the model by its test metrics next to the baselines above."
    if low_signal:
        return [
            "Look at the data before the model: no model here does much better than predicting "
            "the class frequencies or the mean. Check that the target column is the intended "
            "one, and add features more closely related to it; a bigger network or a longer "
            "search will not help much.",
            judge,
        ]
    return [
        "No change is forced. To look for a better model, run a longer search (--max-trials) or "
        "narrow the search space around the best hyperparameters.",
        judge,
    ]
