"""Quality benchmark: the exported model's test score next to the baselines on the same split.

Runs the tool's default command (only the data, the target and `--seed`; `--quick` shrinks the
budget) on scikit-learn's bundled sets, every table of `../shared/data/` (its README lists the
targets) and generated tables, for several seeds, each run its own process. Every score is
read from the run's own `metrics.json`: `exported_model.test` for the network, `baselines` for
the naive, linear and gradient-boosting models fitted on the same split. Accuracy for
classification, R² for regression.

    python benchmarks/quality.py                      # default budget, 3 seeds, every table
    python benchmarks/quality.py --quick              # 6 trials x 30 epochs, a smoke check
    python benchmarks/quality.py --tables fgl,OJ --seeds 0 1 2 --label cv --args "--cv 5"
    python benchmarks/quality.py --show results.jsonl # the table again, one column per label

Results are appended to `--results` (JSON lines, one per run) so that variants measured at
different times, or from another checkout (`--repo`), can be shown side by side with `--show`.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# The real tables (../shared/data beside the checkout); --data-dir or QUALITY_DATA elsewhere.
SHARED_DATA = Path(os.environ.get("QUALITY_DATA", ROOT.parent / "shared" / "data"))


@dataclass(frozen=True)
class Table:
    """One benchmark table: how to point the tool at it, and what it is."""

    name: str
    source: tuple[str, ...]  # the tool's data options
    task: str
    note: str = ""


def _shared(name: str, target: str, task: str, drop: str = "", note: str = "") -> Table:
    source = ("--data", str(SHARED_DATA / f"{name}.csv"), "--target", target)
    return Table(name, source + (("--drop", drop) if drop else ()), task, note)


TABLES = (
    Table("breast_cancer", ("--dataset", "breast_cancer"), "binary", "the built-in default"),
    Table("digits", ("--dataset", "digits"), "multiclass"),
    Table("wine", ("--dataset", "wine"), "multiclass"),
    Table("iris", ("--dataset", "iris"), "multiclass"),
    Table("diabetes", ("--dataset", "diabetes"), "regression"),
    _shared("OJ", "Purchase", "binary"),
    _shared("biopsy", "class", "binary", drop="ID"),
    _shared("HMDA", "deny", "binary"),
    _shared("fgl", "type", "multiclass", note="214 rows, 6 classes"),
    _shared("Carseats", "Sales", "regression"),
    _shared("College", "Apps", "regression", note="right-skewed target"),
    _shared("txhousing", "median", "regression"),
    _shared("loans", "interest_rate", "regression", drop="grade,sub_grade"),
    Table("gen_nonlinear", ("@gen_nonlinear",), "regression", "Friedman #1, 2,000 rows"),
    Table("gen_linear", ("@gen_linear",), "binary", "logistic, 10 features, 1,500 rows"),
    Table("gen_many_values", ("@gen_many_values",), "regression",
          "a 600-valued text column with long-tailed frequencies, 5,000 rows"),
    Table("gen_many_binary", ("@gen_many_binary",), "binary",
          "the same kind of column, a logistic target, 5,000 rows"),
    Table("gen_skewed_price", ("@gen_skewed_price",), "regression",
          "a price whose effects multiply: heavy-tailed areas, 39 text columns, 2,930 rows"),
    Table("gen_segments", ("@gen_segments",), "multiclass",
          "4 customer segments from thresholds and interactions, 12 columns (6 text, some "
          "missing), 4,331 rows"),
    Table("gen_salary", ("@gen_salary",), "regression",
          "a right-skewed salary from career counts, 20 columns, 263 rows"),
    Table("gen_diamonds", ("@gen_diamonds",), "regression",
          "a capped price from carat and three graded text columns, 54,000 rows"),
    Table("gen_wide", ("@gen_wide",), "binary",
          "more columns than a fold's rows: logistic in 5 of 200 numeric columns, 250 rows"),
    Table("gen_noise", ("@gen_noise",), "binary",
          "75 of 80 numeric columns noise: an interaction, a curve and a threshold in 5"),
)


def _generated(name: str, folder: Path) -> tuple[str, ...]:
    """Write a generated table as CSV (the same rows whatever the seed) and point at it."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(12345)
    path = folder / f"{name}.csv"
    if name == "gen_nonlinear":  # Friedman #1: strongly nonlinear, 5 informative of 10 features
        x = rng.uniform(size=(2000, 10))
        y = (10 * np.sin(np.pi * x[:, 0] * x[:, 1]) + 20 * (x[:, 2] - 0.5) ** 2
             + 10 * x[:, 3] + 5 * x[:, 4] + rng.normal(0, 1.0, 2000))
        frame = pd.DataFrame(x, columns=[f"x{i}" for i in range(10)]).assign(y=y)
    elif name.startswith("gen_many_"):  # a many-valued category whose values matter
        frame = _many_values(rng, binary=name == "gen_many_binary")
    elif name == "gen_skewed_price":  # its own seed: the table the README's numbers are on
        frame = _skewed_price(np.random.default_rng(3))
    elif name == "gen_segments":  # each of these three has its own seed, as the one above
        frame = _segments(np.random.default_rng(11))
    elif name == "gen_salary":
        frame = _salary(np.random.default_rng(5))
    elif name == "gen_diamonds":
        frame = _diamonds(np.random.default_rng(7))
    elif name == "gen_wide":
        x = np.random.default_rng(13).normal(size=(250, 200))
        logit = x[:, :5] @ np.array([1.2, -1.0, 0.8, 0.6, -0.5])
        y = np.where(np.random.default_rng(14).random(250) < 1 / (1 + np.exp(-logit)), "yes", "no")
        frame = pd.DataFrame(x, columns=[f"x{i:03d}" for i in range(200)]).assign(y=y)
    elif name == "gen_noise":  # uninformative columns, where gradient boosting shines
        z = np.random.default_rng(21).normal(size=(2000, 80))
        logit = 1.5 * z[:, 0] * z[:, 1] + np.sin(2 * z[:, 2]) + z[:, 3] - 0.8 * (z[:, 4] > 0.5)
        y = np.where(np.random.default_rng(22).random(2000) < 1 / (1 + np.exp(-2 * logit)),
                     "yes", "no")
        frame = pd.DataFrame(z, columns=[f"z{i:02d}" for i in range(80)]).assign(y=y)
    else:  # nearly linear: a logistic model on 10 correlated features, little curvature
        x = rng.normal(size=(1500, 10)) @ rng.normal(scale=0.5, size=(10, 10)) + rng.normal(
            size=(1500, 10))
        logit = x @ rng.normal(size=10) * 0.6 + 0.15 * x[:, 0] ** 2
        y = np.where(rng.random(1500) < 1 / (1 + np.exp(-logit)), "yes", "no")
        frame = pd.DataFrame(x, columns=[f"x{i}" for i in range(10)]).assign(y=y)
    if not path.exists():
        frame.to_csv(path, index=False)
    return ("--data", str(path), "--target", "y")


def _many_values(rng, binary: bool, rows: int = 5000, values: int = 600):
    """A text column of `values` shops with Zipf-like frequencies (a few common, a long tail of
    rare ones), each with its own random effect, plus four numeric features: the shop's effect
    is as large as the numbers' together, and most shops are too rare for one-hot's 100 slots."""
    import numpy as np
    import pandas as pd

    weights = 1.0 / np.arange(1, values + 1) ** 0.8
    shop = rng.choice(values, size=rows, p=weights / weights.sum())
    effect = rng.normal(0.0, 1.0, values)
    x = rng.normal(size=(rows, 4))
    signal = 1.5 * effect[shop] + x[:, 0] + np.sin(2 * x[:, 1]) + 0.5 * x[:, 2] * x[:, 3]
    frame = pd.DataFrame(x, columns=[f"x{i}" for i in range(4)])
    frame.insert(0, "shop", [f"shop_{s:04d}" for s in rng.permutation(values)[shop]])
    if binary:
        y = np.where(rng.random(rows) < 1 / (1 + np.exp(-(signal - 0.5))), "yes", "no")
    else:
        y = signal + rng.normal(0.0, 1.0, rows)
    return frame.assign(y=y)


def _skewed_price(rng, rows: int = 2930, n_numeric: int = 30, n_text: int = 39):
    """A sale price that is log-additive: heavy-tailed areas, counts and years (a tenth of
    some missing), text columns of 2 to 25 values (some often missing), effects through
    thresholds and one interaction; the target is right-skewed, multiplicative noise."""
    import numpy as np
    import pandas as pd

    columns, signal = {}, np.zeros(rows)
    for j in range(n_numeric):
        if j % 3 == 0:
            values = np.exp(rng.normal(7, 0.6, rows))  # an area: heavy-tailed
        elif j % 3 == 1:
            values = rng.integers(0, 6, rows).astype(float)  # a count
        else:
            values = rng.integers(1900, 2010, rows).astype(float)  # a year
        z = np.log(values + 1)
        z = (z - z.mean()) / (z.std() + 1e-9)
        if j < 8:
            signal += [0.25, 0.1, 0.08, 0.05][j % 4] * (z > 0.5) + 0.05 * z
        values = values.round(0)
        if j % 5 == 4:
            values = np.where(rng.random(rows) < 0.15, np.nan, values)
        columns[f"num_{j:02d}"] = values
    for j in range(n_text):
        k = int(rng.integers(2, 26))
        codes = rng.choice(k, rows, p=rng.dirichlet(np.ones(k) * 0.5))
        signal += rng.normal(0, 0.08 if j < 10 else 0.01, k)[codes]
        values = np.array([f"L{j}_{c}" for c in range(k)], dtype=object)[codes]
        if j % 7 == 0:
            values = np.where(rng.random(rows) < 0.3, None, values)
        columns[f"cat_{j:02d}"] = values
    big = columns["num_00"] > np.nanmedian(columns["num_00"])
    signal += 0.2 * ((columns["cat_00"] == "L0_0") & big)
    frame = pd.DataFrame(columns)
    frame["y"] = np.exp(12 + signal + rng.normal(0, 0.12, rows)).round(0)
    return frame


def _segments(rng, rows: int = 4331):
    """Four customer segments, each favoured by thresholds on age, income, tenure, visits and
    score and by text columns and their interactions, with Gumbel noise on the scores (so the
    classes overlap); a few percent of six columns missing."""
    import numpy as np
    import pandas as pd

    n = rows
    age = rng.integers(18, 90, n).astype(float)
    income = np.exp(rng.normal(10.5, 0.8, n)).round(0)
    tenure = rng.exponential(4, n).round(1)
    visits = rng.poisson(3 + 0.05 * (age - 18), n).astype(float)
    score = rng.normal(50, 15, n).round(0)
    family = rng.integers(1, 9, n).astype(float)
    profession = rng.choice(["Artist", "Doctor", "Engineer", "Entertainment", "Executive",
                             "Healthcare", "Homemaker", "Lawyer", "Marketing"], n)
    married = rng.choice(["Yes", "No"], n, p=[0.58, 0.42])
    graduated = rng.choice(["Yes", "No"], n, p=[0.62, 0.38])
    spending = rng.choice(["Low", "Average", "High"], n, p=[0.6, 0.25, 0.15])
    region = rng.choice([f"Cat_{i}" for i in range(1, 8)], n,
                        p=[0.02, 0.05, 0.1, 0.13, 0.01, 0.65, 0.04])
    s = np.zeros((n, 4))
    s[:, 0] += (1.5 * (age < 30) + 1.0 * (married == "No") + 0.8 * (profession == "Healthcare")
                + 1.2 * ((spending == "Low") & (age < 35)))
    s[:, 1] += (1.3 * ((age >= 40) & (age < 60)) + 1.0 * (spending == "Average")
                + 0.7 * (profession == "Artist") + 0.9 * (income > 60000))
    s[:, 2] += (1.2 * (graduated == "Yes") * (family >= 3) + 1.1 * (profession == "Engineer")
                + 0.8 * (tenure > 6) + 0.6 * (visits > 6))
    s[:, 3] += (1.4 * (age >= 60) + 1.3 * (spending == "High") * (married == "Yes")
                + 0.9 * (profession == "Lawyer") + 0.7 * (score > 70))
    s += rng.gumbel(0, 0.55, (n, 4))
    frame = pd.DataFrame(dict(
        Gender=rng.choice(["Male", "Female"], n), Ever_Married=married, Age=age,
        Graduated=graduated, Profession=profession, Work_Experience=tenure,
        Spending_Score=spending, Family_Size=family, Var_1=region, Income=income,
        Visits=visits, Score=score, y=np.array(list("ABCD"))[s.argmax(1)]))
    for column, share in [("Ever_Married", 0.02), ("Graduated", 0.01), ("Profession", 0.015),
                          ("Work_Experience", 0.1), ("Family_Size", 0.04), ("Var_1", 0.01)]:
        frame.loc[rng.random(n) < share, column] = np.nan
    return frame


def _salary(rng, rows: int = 263):
    """A baseball player's salary: season and career counts (career = season x years, heavy
    tailed and correlated), a step-like effect of experience, multiplicative noise; 263 rows,
    a right-skewed target."""
    import numpy as np
    import pandas as pd

    n = rows
    years = np.clip(rng.gamma(2.2, 3.3, n).round(0), 1, 24)
    ability = rng.normal(0, 1, n)
    atbat = np.clip(rng.normal(400 + 60 * ability, 120, n), 60, 700).round(0)
    hits = (atbat * np.clip(rng.normal(0.262 + 0.012 * ability, 0.02, n), 0.18, 0.34)).round(0)
    hmrun = np.clip(rng.gamma(1.6, 7 * np.exp(0.3 * ability)), 0, 45).round(0)
    runs = (hits * 0.48 + rng.normal(0, 8, n)).clip(5).round(0)
    rbi = (hits * 0.4 + hmrun * 1.5 + rng.normal(0, 8, n)).clip(5).round(0)
    walks = (atbat * rng.uniform(0.05, 0.14, n)).round(0)
    career = years * rng.uniform(0.7, 1.05, n)
    league, division = rng.choice(["A", "N"], n), rng.choice(["E", "W"], n)
    new_league = np.where(rng.random(n) < 0.9, league, np.where(league == "A", "N", "A"))
    putouts = np.clip(rng.gamma(1.3, 220, n), 0, 1400).round(0)
    assists = np.clip(rng.gamma(0.7, 150, n), 0, 500).round(0)
    errors = np.clip(rng.poisson(2 + assists / 60), 0, 32)
    experience = np.where(years <= 2, -1.2, np.where(
        years <= 5, -0.4 + 0.15 * (years - 3), 0.2 + 0.01 * (years - 6)))
    chits = (hits * career).round(0)
    log_salary = (5.6 + experience + 0.35 * np.log1p(chits / 500) + 0.004 * (hits - 100)
                  + 0.1 * (division == "E") + rng.normal(0, 0.42, n))
    return pd.DataFrame(dict(
        AtBat=atbat, Hits=hits, HmRun=hmrun, Runs=runs, RBI=rbi, Walks=walks, Years=years,
        CAtBat=(atbat * career).round(0), CHits=chits, CHmRun=(hmrun * career).round(0),
        CRuns=(runs * career).round(0), CRBI=(rbi * career).round(0),
        CWalks=(walks * career).round(0), League=league, Division=division, PutOuts=putouts,
        Assists=assists, Errors=errors, y=np.exp(log_salary).round(1), NewLeague=new_league))


def _diamonds(rng, rows: int = 54000):
    """A gem's price: log-linear in log carat (with spikes at round sizes), graded cut, colour
    and clarity (text) whose effects grow with size, x/y/z from the carat (a few zeros), and a
    price capped at both ends."""
    import numpy as np
    import pandas as pd

    n = rows
    carat = np.exp(rng.normal(-0.45, 0.55, n))
    magic = rng.random(n) < 0.35
    sizes = np.array([0.3, 0.4, 0.5, 0.7, 0.9, 1.0, 1.01, 1.2, 1.5, 2.0])
    carat[magic] = rng.choice(sizes, magic.sum()) + rng.uniform(0, 0.04, magic.sum())
    carat = np.clip(carat, 0.2, 5.0).round(2)
    cut = rng.choice(5, n, p=[0.03, 0.09, 0.22, 0.26, 0.40])
    color = rng.choice(7, n, p=[0.12, 0.18, 0.18, 0.21, 0.15, 0.10, 0.06])
    clarity = rng.choice(8, n, p=[0.014, 0.17, 0.24, 0.23, 0.15, 0.094, 0.068, 0.034])
    depth = rng.normal(61.75, 1.4, n).round(1)
    table = rng.normal(57.45, 2.2, n).round(0)
    x = (6.45 * carat ** (1 / 3) + rng.normal(0, 0.05, n)).round(2)
    y = (x + rng.normal(0, 0.05, n)).round(2)
    z = (x * depth / 100 + rng.normal(0, 0.03, n)).round(2)
    x[rng.random(n) < 0.0005] = 0
    z[rng.random(n) < 0.0004] = 0
    size = np.tanh(np.log(carat))
    log_price = (8.45 + 1.72 * np.log(carat) - 0.12 * np.log(carat) ** 2
                 + np.linspace(0.30, -0.38, 7)[color] * (1 + 0.3 * size)
                 + np.array([-0.75, -0.25, -0.08, 0.05, 0.12, 0.22, 0.28, 0.40])[clarity]
                 * (1 + 0.35 * size)
                 + np.array([-0.15, -0.06, 0.0, 0.03, 0.06])[cut]
                 - 0.01 * np.abs(depth - 61.8) + rng.normal(0, 0.12, n))
    return pd.DataFrame(dict(
        carat=carat, cut=np.array(["Fair", "Good", "Very Good", "Premium", "Ideal"])[cut],
        color=np.array(list("DEFGHIJ"))[color],
        clarity=np.array(["I1", "SI2", "SI1", "VS2", "VS1", "VVS2", "VVS1", "IF"])[clarity],
        depth=depth, table=table, y=np.clip(np.exp(log_price), 326, 18823).round(0),
        x=x, length=y, z=z))


def _primary(task: str) -> str:
    return "r2" if task == "regression" else "accuracy"


def run_one(table: Table, seed: int, args: argparse.Namespace, work: Path) -> dict:
    """One run of the tool on one table; its scores as read from metrics.json."""
    source = _generated(table.name, work) if table.source[0].startswith("@") else table.source
    name = f"{table.name}-s{seed}-{time.strftime('%H%M%S')}"
    budget = ["--max-trials", "6", "--epochs", "30"] if args.quick else []
    command = [sys.executable, str(Path(args.repo) / "run_tuning.py"), *source,
               "--seed", str(seed), "--out", str(work / "runs"), "--name", name,
               *budget, *shlex.split(args.args)]
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    wall = time.perf_counter() - started
    row = {"label": args.label, "table": table.name, "task": table.task, "seed": seed,
           "quick": args.quick, "args": args.args, "repo": str(args.repo),
           "wall": round(wall, 2), "status": done.returncode}
    if done.returncode != 0:
        row["error"] = (done.stderr.strip().splitlines() or ["?"])[-1]
        return row
    metrics = json.loads((work / "runs" / name / "metrics.json").read_text())
    key = _primary(table.task)
    exported = metrics.get("exported_model", {})
    row["network"] = exported.get("test", {}).get(key)
    row["exported_kind"] = exported.get("kind")
    single = exported.get("single_best", {}).get("test", {}) if isinstance(
        exported.get("single_best"), dict) else {}
    row["single_best"] = single.get(key, metrics.get("metrics", {}).get("test", {}).get(key))
    for base in ("naive", "linear", "gradient_boosting"):
        row[base] = metrics.get("baselines", {}).get(base, {}).get("test", {}).get(key)
    row["search_seconds"] = metrics.get("seconds", {}).get("search")
    row["cv"] = metrics.get("cv", {}).get("folds") if isinstance(metrics.get("cv"), dict) else None
    return row


def _median(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


def _fmt(value: float | None, signed: bool = False) -> str:
    if value is None:
        return "-"
    return f"{value:+.3f}" if signed else f"{value:.3f}"


def summarize(rows: list[dict]) -> str:
    """One line per (label, table): medians over seeds, and how the goals stand."""
    lines = ["| table | label | seeds | network | single best | naive | linear | grad. boost. "
             "| Δ linear | Δ GB | wall s |", "|" + "---|" * 11]
    groups: dict[tuple[str, str], list[dict]] = {}
    order = [t.name for t in TABLES]
    latest = {(r["label"], r["table"], r["seed"]): r for r in rows}  # a rerun replaces a run
    for row in latest.values():
        groups.setdefault((row["table"], row["label"]), []).append(row)
    goals: dict[str, list[int]] = {}
    for (table, label), group in sorted(
            groups.items(), key=lambda kv: (order.index(kv[0][0]) if kv[0][0] in order else 99,
                                            kv[0][1])):
        ok = [r for r in group if r["status"] == 0]
        net = _median([r.get("network") for r in ok])
        lin = _median([r.get("linear") for r in ok])
        gb = _median([r.get("gradient_boosting") for r in ok])
        # Goals per seed-median: at least linear; within 0.01 acc / 0.02 R² of GB; beats GB.
        d_lin = None if net is None or lin is None else net - lin
        d_gb = None if net is None or gb is None else net - gb
        tol = 0.02 if group[0]["task"] == "regression" else 0.01
        g = goals.setdefault(label, [0, 0, 0, 0])
        g[0] += 1
        g[1] += d_lin is not None and d_lin >= 0
        g[2] += d_gb is None or d_gb >= -tol
        g[3] += d_gb is not None and d_gb > 0
        failed = len(group) - len(ok)
        lines.append(
            f"| {table} | {label} | {len(ok)}{f' ({failed} failed)' if failed else ''} | "
            f"{_fmt(net)} | {_fmt(_median([r.get('single_best') for r in ok]))} | "
            f"{_fmt(_median([r.get('naive') for r in ok]))} | {_fmt(lin)} | {_fmt(gb)} | "
            f"{_fmt(d_lin, True)} | {_fmt(d_gb, True)} | "
            f"{_fmt(_median([r['wall'] for r in ok])).rstrip('0').rstrip('.')} |")
    lines.append("")
    for label, (n, lin, near, beat) in goals.items():
        lines.append(f"{label}: of {n} tables, at least linear on {lin}, within tolerance of "
                     f"gradient boosting on {near}, ahead of it on {beat}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="6 trials x 30 epochs per run")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--tables", default="", help="comma-separated table names (default: all)")
    p.add_argument("--args", default="", help="extra options for the tool, e.g. '--tuner random'")
    p.add_argument("--label", default="default", help="names this variant in the results")
    p.add_argument("--repo", default=str(ROOT), help="the checkout whose run_tuning.py runs")
    p.add_argument("--results", default=str(ROOT / "benchmarks" / "quality_results.jsonl"))
    p.add_argument("--show", metavar="FILE", help="only print the table of a results file")
    p.add_argument("--keep", metavar="DIR",
                   help="keep the run folders (and generated tables) in DIR instead of a "
                        "temporary folder, to look into them afterwards")
    args = p.parse_args(argv)
    if args.show:
        rows = [json.loads(line) for line in Path(args.show).read_text().splitlines() if line]
        print(summarize(rows))
        return 0
    wanted = {t for t in args.tables.split(",") if t}
    unknown = wanted - {t.name for t in TABLES}
    if unknown:
        p.error(f"unknown tables: {', '.join(sorted(unknown))}")
    tables = [t for t in TABLES if not wanted or t.name in wanted]
    missing = [t.name for t in tables if t.source[0] == "--data" and not Path(t.source[1]).exists()]
    if missing:
        print(f"warning: skipped {', '.join(missing)}: no CSV in {SHARED_DATA} "
              "(set QUALITY_DATA to the folder of the real tables)", file=sys.stderr)
    tables = [t for t in tables if t.name not in missing]
    rows = []
    keep = Path(args.keep) if args.keep else None
    if keep is not None:
        keep.mkdir(parents=True, exist_ok=True)
    with (contextlib.nullcontext(str(keep)) if keep is not None
          else tempfile.TemporaryDirectory(prefix="quality-")) as tmp:
        for table in tables:
            for seed in args.seeds:
                row = run_one(table, seed, args, Path(tmp))
                rows.append(row)
                with open(args.results, "a") as out:
                    out.write(json.dumps(row) + "\n")
                print(f"{table.name} seed {seed}: network {_fmt(row.get('network'))}, linear "
                      f"{_fmt(row.get('linear'))}, gradient boosting "
                      f"{_fmt(row.get('gradient_boosting'))}, {row['wall']:.1f} s"
                      + (f"  [{row['error']}]" if "error" in row else ""), flush=True)
    print()
    print(summarize(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
