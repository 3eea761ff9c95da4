"""The course's five optimizers by name: SGD, momentum, Nesterov, RMSProp and Adam."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import keras

# β of the exponentially weighted gradient average for momentum and Nesterov (the notes' 0.9).
MOMENTUM = 0.9


def make_optimizer(name: str, learning_rate: float) -> keras.optimizers.Optimizer:
    """Build an optimizer by its search-space name.

    Args:
        name: "sgd", "momentum", "nesterov", "rmsprop" or "adam".
        learning_rate: the step size η.

    Returns:
        A fresh Keras optimizer; RMSProp and Adam keep Keras' defaults (ρ/β₂ and ε).
    """
    import keras

    if name == "sgd":
        return keras.optimizers.SGD(learning_rate)
    if name == "momentum":
        return keras.optimizers.SGD(learning_rate, momentum=MOMENTUM)
    if name == "nesterov":
        return keras.optimizers.SGD(learning_rate, momentum=MOMENTUM, nesterov=True)
    if name == "rmsprop":
        return keras.optimizers.RMSprop(learning_rate)
    if name == "adam":
        return keras.optimizers.Adam(learning_rate)
    raise ValueError(f"Unknown optimizer {name!r}.")
