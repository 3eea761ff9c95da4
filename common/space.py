"""The search space: built-in ranges, the TOML file that changes them, and `hp` declarations."""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from common.errors import ConfigError

ACTIVATIONS = ("relu", "tanh", "sigmoid", "leaky_relu", "elu", "selu", "gelu", "swish")
OPTIMIZERS = ("sgd", "momentum", "nesterov", "rmsprop", "adam")
# How numeric columns are fed to the network (`data.numeric_encoding`).
NUMERIC_ENCODINGS = ("standard", "quantile", "ple")


@dataclass(frozen=True)
class Range:
    """A numeric range for Keras Tuner's `hp.Int` / `hp.Float`.

    Attributes:
        min: smallest value.
        max: largest value.
        step: spacing between values (a multiplier when sampling is "log"); None = continuous.
        sampling: "linear" or "log".
    """

    min: float
    max: float
    step: float | None = None
    sampling: str = "linear"


# A fixed value, a list of choices, or a range.
Param = Any


@dataclass(frozen=True)
class _Rule:
    kind: type  # int, float or str
    low: float | None = None  # smallest allowed value
    high: float | None = None  # largest allowed value
    low_open: bool = False  # True: `low` itself is not allowed
    high_open: bool = False  # True: `high` itself is not allowed
    names: tuple[str, ...] = ()  # allowed strings


_RULES: dict[str, _Rule] = {
    "layers": _Rule(int, 0, 16),  # 0: no hidden layer, a linear model
    "units": _Rule(int, 1, 8192),
    "activation": _Rule(str, names=ACTIVATIONS),
    "optimizer": _Rule(str, names=OPTIMIZERS),
    "learning_rate": _Rule(float, 0.0, 10.0, low_open=True),
    "batch_size": _Rule(int, 1, 1_000_000),
    "l2": _Rule(float, 0.0, 1.0),
    "l1": _Rule(float, 0.0, 1.0),
    "dropout": _Rule(float, 0.0, 1.0, high_open=True),
    "numeric_encoding": _Rule(str, names=NUMERIC_ENCODINGS),
}


@dataclass(frozen=True)
class SearchSpace:
    """Every hyperparameter's fixed value, choices or range. Defaults are the built-in space."""

    layers: Param = field(default_factory=lambda: Range(1, 4))  # hidden layers
    units: Param = (16, 32, 64, 128, 256)  # neurons in each hidden layer
    activation: Param = ("relu", "tanh", "sigmoid", "leaky_relu")  # hidden activation
    optimizer: Param = OPTIMIZERS  # the course's five: SGD, momentum, Nesterov, RMSProp, Adam
    learning_rate: Param = field(default_factory=lambda: Range(1e-4, 1e-1, sampling="log"))
    batch_size: Param = (16, 32, 64, 128, 256)
    l2: Param = field(default_factory=lambda: Range(1e-6, 1e-2, sampling="log"))  # L2 penalty
    dropout: Param = field(default_factory=lambda: Range(0.0, 0.5, step=0.1))  # dropout rate
    # How numeric columns are encoded: standard, quantile or ple (piecewise-linear bins).
    numeric_encoding: Param = ("standard", "ple")
    # L1 penalty λ₁·Σ|w| on the first layer's kernel (the inputs' weights): drives the weights
    # of uninformative columns towards zero. 0 turns it off.
    l1: Param = (0.0, 1e-3, 3e-3, 1e-2)

    def largest(self, name: str) -> float:
        """The largest value a numeric hyperparameter can take: its fixed value, its largest
        choice or its range's maximum."""
        value = getattr(self, name)
        if isinstance(value, Range):
            return value.max
        if isinstance(value, tuple):
            return max(value)
        return value

    def describe(self) -> dict[str, Any]:
        """A JSON-friendly view, for metadata and resume checks."""
        out: dict[str, Any] = {}
        for name in _RULES:
            value = getattr(self, name)
            if isinstance(value, Range):
                out[name] = {
                    "min": value.min,
                    "max": value.max,
                    "step": value.step,
                    "sampling": value.sampling,
                }
            elif isinstance(value, tuple):
                out[name] = list(value)
            else:
                out[name] = value
        return out


def _check_value(name: str, value: Any, where: str) -> Any:
    rule = _RULES[name]
    if rule.kind is str:
        if not isinstance(value, str) or value not in rule.names:
            raise ConfigError(
                f"{where}: {name} = {value!r} is not allowed. Choose from: {', '.join(rule.names)}."
            )
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"{where}: {name} must be a number, got {value!r}.")
    if rule.kind is int and value != int(value):
        raise ConfigError(f"{where}: {name} must be a whole number, got {value!r}.")
    if not math.isfinite(value):
        raise ConfigError(f"{where}: {name} must be finite, got {value!r}.")
    too_low = value <= rule.low if rule.low_open else value < rule.low
    too_high = value >= rule.high if rule.high_open else value > rule.high
    if too_low or too_high:
        lo = "(" if rule.low_open else "["
        hi = ")" if rule.high_open else "]"
        raise ConfigError(
            f"{where}: {name} = {value!r} is out of range; it must lie in "
            f"{lo}{rule.low:g}, {rule.high:g}{hi}."
        )
    return rule.kind(value)


def _parse_param(name: str, raw: Any, where: str) -> Param:
    rule = _RULES[name]
    if isinstance(raw, list):
        if not raw:
            raise ConfigError(f"{where}: {name} is an empty list; give at least one value.")
        values = tuple(_check_value(name, v, where) for v in raw)
        if len(set(values)) != len(values):
            raise ConfigError(f"{where}: {name} lists a value twice: {list(raw)}.")
        return values[0] if len(values) == 1 else values
    if isinstance(raw, dict):
        if rule.kind is str:
            raise ConfigError(f"{where}: {name} takes a name or a list of names, not a range.")
        unknown = set(raw) - {"min", "max", "step", "sampling"}
        if unknown or not {"min", "max"} <= set(raw):
            raise ConfigError(
                f"{where}: the range for {name} takes keys min, max and optionally step and "
                f"sampling; got {', '.join(sorted(raw))}."
            )
        low, high = _check_value(name, raw["min"], where), _check_value(name, raw["max"], where)
        if low > high:
            raise ConfigError(f"{where}: {name} has min {low:g} > max {high:g}; swap them.")
        sampling = raw.get("sampling", "linear")
        if sampling not in ("linear", "log"):
            raise ConfigError(
                f"{where}: {name} sampling must be 'linear' or 'log', got {sampling!r}."
            )
        if sampling == "log" and low <= 0:
            raise ConfigError(
                f"{where}: {name} uses log sampling, so min must be > 0 (got {low:g})."
            )
        step = raw.get("step")
        if step is not None:
            if isinstance(step, bool) or not isinstance(step, (int, float)) or step <= 0:
                raise ConfigError(f"{where}: {name} step must be a positive number, got {step!r}.")
            if sampling == "log" and step <= 1:
                raise ConfigError(
                    f"{where}: {name} with log sampling needs step > 1 (a multiplier)."
                )
            if rule.kind is int and step != int(step):
                raise ConfigError(f"{where}: {name} step must be a whole number, got {step!r}.")
        if low == high:
            return low
        return Range(low, high, step, sampling)
    return _check_value(name, raw, where)


def load_space(path: str | Path | None) -> SearchSpace:
    """Read a search-space TOML file over the built-in space.

    Args:
        path: the TOML file, or None for the built-in space.

    Raises:
        ConfigError: if the file is missing, not TOML, has an unknown key or an impossible value.
    """
    space = SearchSpace()
    if path is None:
        return space
    path = Path(path)
    where = f"--space {path}"
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{where}: file not found. Check the path.") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{where}: cannot read it ({exc}).") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(
            f"{where}: not valid TOML ({exc}). See the README for the format."
        ) from None
    unknown = sorted(set(data) - set(_RULES))
    if unknown:
        raise ConfigError(
            f"{where}: unknown key(s) {', '.join(unknown)}. Known keys: {', '.join(_RULES)}."
        )
    return replace(space, **{k: _parse_param(k, v, where) for k, v in data.items()})


def declare(hp: Any, name: str, param: Param, **scope: Any) -> Any:
    """Declare one hyperparameter on Keras Tuner's `hp` and return its value for this trial.

    A fixed value becomes `hp.Fixed`, a tuple `hp.Choice`, a `Range` `hp.Int` or `hp.Float`.
    """
    if isinstance(param, tuple):
        return hp.Choice(name, list(param), ordered=not isinstance(param[0], str), **scope)
    if isinstance(param, Range):
        if _RULES[name.split("_")[0] if name.startswith("units_") else name].kind is int:
            step = int(param.step) if param.step else (None if param.sampling == "log" else 1)
            return hp.Int(
                name, int(param.min), int(param.max), step=step, sampling=param.sampling, **scope
            )
        return hp.Float(
            name, param.min, param.max, step=param.step, sampling=param.sampling, **scope
        )
    return hp.Fixed(name, param, **scope)
