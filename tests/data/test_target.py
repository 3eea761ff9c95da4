"""The scale a regression target is learned on, and its exact inverse in Keras layers."""

from __future__ import annotations

import numpy as np
import pytest

from data.target import TargetTransform, choose_transform, inverse_layers, skewness


def _skewed(n: int = 400, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).lognormal(10, 1.0, n)


def test_auto_learns_log1p_of_a_right_skewed_positive_target_only():
    chosen = choose_transform(_skewed(), "auto")
    assert chosen.kind == "log" and "right-skewed" in chosen.reason
    symmetric = np.random.default_rng(1).normal(50, 5, 400)
    assert choose_transform(symmetric, "auto").kind == "none"
    shifted = _skewed() - 1e5  # skewed but with negative values: log1p cannot take it
    assert choose_transform(shifted, "auto").kind == "none"
    assert skewness(_skewed()) > 1.0 > abs(skewness(np.log1p(_skewed())))


@pytest.mark.parametrize("kind", ["none", "log", "quantile"])
def test_forward_then_inverse_is_the_identity_on_training_values(kind):
    y = _skewed()
    transform = choose_transform(y, kind)
    assert transform.kind == kind
    np.testing.assert_allclose(transform.inverse(transform.forward(y)), y, rtol=1e-9)


def test_log_is_refused_for_negative_targets():
    with pytest.raises(ValueError, match="negative"):
        choose_transform(np.array([-1.0, 2.0, 3.0]), "log")


@pytest.mark.parametrize("kind", ["log", "quantile"])
def test_the_keras_layers_compute_the_inverse(kind):
    import keras

    y = _skewed()
    transform = choose_transform(y, kind)
    low = 0.0 if kind == "log" else transform.forward(y).min() - 0.5  # log: values near 0 too
    z = np.linspace(low, transform.forward(y).max() + 0.5, 301).reshape(-1, 1).astype("float32")
    x = inputs = keras.Input((1,))
    for layer in inverse_layers(transform):
        x = layer(x)
    model = keras.Model(inputs, x)
    names = {type(layer).__name__ for layer in model.layers}
    assert names <= {"InputLayer", "Activation", "Rescaling", "Dense"}
    got = np.asarray(model(z)).reshape(-1)
    np.testing.assert_allclose(got, transform.inverse(z.reshape(-1)), rtol=3e-5, atol=1e-2)


def test_no_layers_without_a_transform():
    assert inverse_layers(TargetTransform()) == []


def test_auto_keeps_a_skewed_target_whose_relation_to_the_features_is_additive():
    rng = np.random.default_rng(0)
    x = rng.lognormal(0, 1.0, size=(400, 1))
    additive = 1000 * x[:, 0] + rng.normal(0, 10, 400)  # skewed, but linear in x
    multiplicative = np.exp(2 + 1.5 * np.log(x[:, 0]) + rng.normal(0, 0.2, 400))
    assert choose_transform(additive, "auto", x).kind == "none"
    assert choose_transform(multiplicative, "auto", np.log(x)).kind == "log"


def test_auto_judges_with_every_encoding_the_search_will_try():
    # Effects that multiply through heavy-tailed features: a ridge on the standardized raw
    # features cannot add them up, one on their piecewise-linear encoding can (on log1p).
    rng = np.random.default_rng(1)
    area = rng.lognormal(7, 0.6, size=(600, 3))
    price = np.exp(11 + np.log(area) @ np.array([0.8, 0.5, 0.4]) + rng.normal(0, 0.15, 600))
    standard = (area - area.mean(0)) / area.std(0)
    edges = [np.quantile(a, np.linspace(0, 1, 9)) for a in area.T]
    ple = np.hstack([np.clip((a[:, None] - e[:-1]) / np.diff(e), 0, 1)
                     for a, e in zip(area.T, edges, strict=True)])  # (600, 24)
    alone = choose_transform(price, "auto", {"standard": standard})
    assert alone.kind == "none"
    both = choose_transform(price, "auto", {"standard": standard, "ple": ple})
    assert both.kind == "log" and "piecewise-linear inputs" in both.reason
    # A target proportional to a feature stays as given with both views.
    additive = 500 * area[:, 0] + rng.normal(0, 50, 600)
    assert choose_transform(additive, "auto", {"standard": standard, "ple": ple}).kind == "none"
