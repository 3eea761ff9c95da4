"""`run_tuning.py predict`: score a CSV with an exported model folder, writing one row per row.

    python run_tuning.py predict --model runs/<run>/model --data new.csv --out predictions.csv

The model folder, the CSV and its columns are all checked before TensorFlow is imported, so
mistakes are reported at once as one `error:` line with exit status 2.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from common.errors import ConfigError, TuningError
from common.files import can_create_in, write_text
from tuning.cli.args import Parser

_EPILOG = """\
The output has one row per input row, in order: `prediction` (the class label as spelled in
the training data, or the value in the target's units) and, for classification,
`probability_<label>` per class. Columns the model does not use, the target included, are
ignored. Only model folders written by this tool are loaded (see README: a .keras file is code).

exit status: 0 success, 2 bad input, 1 unexpected error."""


def _parser() -> argparse.ArgumentParser:
    p = Parser(
        prog="run_tuning.py predict",
        description="Predict with a model exported by a tuning run.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--model",
        required=True,
        metavar="DIR",
        help="the run's model folder, e.g. runs/<run>/model",
    )
    p.add_argument(
        "--data",
        required=True,
        metavar="CSV",
        help="rows to predict: a CSV with the training's feature columns",
    )
    p.add_argument("--out", required=True, metavar="CSV", help="where to write the predictions")
    return p


def _check_out(out: Path, data: Path, model: Path) -> Path:
    """The file to write: `out`, or the file a symlink `out` points to (written through)."""
    target = Path(os.path.realpath(out))
    if target.is_dir():
        raise ConfigError(f"--out '{out}' is a folder. Pass a file name, e.g. predictions.csv.")
    if target.exists() and not target.is_file():
        raise ConfigError(
            f"--out '{out}' is not a regular file (a device, pipe or socket); predict writes "
            "only regular files. Pass a file name, e.g. predictions.csv."
        )
    if not target.parent.is_dir():
        raise ConfigError(
            f"--out '{out}': folder '{target.parent}' does not exist. Create it first, or pass "
            "--out in an existing folder."
        )
    if data.exists() and (target == data.resolve() or (target.exists() and target.samefile(data))):
        raise ConfigError(
            f"--out '{out}' is the input file given to --data; predict never overwrites its "
            "input. Pass another file name, e.g. predictions.csv."
        )
    if model.is_dir() and target.is_relative_to(model.resolve()):
        raise ConfigError(
            f"--out '{out}' is inside the model folder '{model}', which must stay as exported. "
            "Write the predictions elsewhere."
        )
    if not can_create_in(target.parent):
        raise ConfigError(f"Cannot write to '{target.parent}'. Pass --out in a writable folder.")
    return target


def unseen_warning(column: str, rows: int, examples: list[str]) -> str:
    """The console line for categorical values that training gave no category of their own."""
    from data.preprocessing import MISSING_CATEGORY

    shown = ", ".join("missing" if e == MISSING_CATEGORY else repr(e) for e in examples)
    return (
        f"warning: column {column!r}: {rows} row(s) hold values training did not see as "
        f"categories of their own ({shown}); the model reads them as one 'other' category"
    )


def _predict(args: argparse.Namespace) -> int:
    from models.predictor import Predictor, prediction_table

    model_dir, data, out = Path(args.model), Path(args.data), Path(args.out)
    target = _check_out(out, data, model_dir)
    predictor = Predictor.load(model_dir)
    frame = predictor.read_csv(data)
    for note in predictor.notes(frame):
        print(f"warning: {note}", flush=True)
    predictor.check(frame)
    for column, rows, examples in predictor.unseen_categories(frame):
        print(unseen_warning(column, rows, examples), flush=True)

    # Only now, with every input checked, is TensorFlow imported.
    table = prediction_table(predictor.metadata, predictor.output(frame))
    # %.9g round-trips float32 probabilities; regression values are float64 (shortest repr).
    number = None if predictor.task == "regression" else "%.9g"
    try:
        write_text(target, table.to_csv(index=False, float_format=number, lineterminator="\n"))
    except OSError as exc:
        raise ConfigError(
            f"Cannot write --out '{out}' ({exc.strerror or exc}). Pass a file in a writable folder."
        ) from None
    print(f"wrote {len(table)} predictions to {out}", flush=True)
    return 0


def main(argv: list[str]) -> int:
    """Run the predict command.

    Args:
        argv: the options after `predict`.

    Returns:
        The exit status: 0 on success, 2 on bad input (one `error:` line on stderr).
    """
    args = _parser().parse_args(argv)
    try:
        return _predict(args)
    except TuningError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 2
