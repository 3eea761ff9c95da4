"""Real run folders' reports in headless Chromium at two widths, and what their console said.

The browser is Debian's `chromium` driven by Playwright (its own browser download is not
needed); the browser tests skip only where either is missing. Screenshots go to a pytest tmp
folder and, when REPORT_SCREENSHOTS names a folder, there as well.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
from pathlib import Path

import pytest

from reports.headline import make_headline, result_line
from tests.conftest import HOSTILE_COLUMN

WIDTHS = (1400, 760)
TASKS = ("binary", "multiclass", "regression")
_CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]


# ---------------------------------------------------------------------------------------------
# What the console said, against the run folder


@pytest.mark.parametrize("task", TASKS)
def test_console_trial_ids_and_result_line_match_the_run_folder(task_runs, task):
    run_dir, lines = task_runs[task]
    metrics = json.loads((run_dir / "metrics.json").read_text())
    ids = [row["trial_id"] for row in csv.DictReader((run_dir / "trials.csv").open())]
    trial_lines = [line for line in lines if line.startswith("trial ")]
    # One numbering: the console's "trial <id>" is trials.csv's trial_id; progress is apart.
    assert [line.split()[1] for line in trial_lines] == ids
    assert [line.split(" done")[0].split()[-1] for line in trial_lines] == ["1/2", "2/2"]
    assert result_line(metrics) in lines
    if task == "regression":  # a price: learned as log1p, its scores an RMSE of log1p
        assert metrics["target_transform"]["kind"] == "log"
        assert all("val RMSE(log1p) " in line for line in trial_lines)
        assert ", RMSE " in result_line(metrics)


# ---------------------------------------------------------------------------------------------
# The pages in a real browser


@pytest.fixture(scope="module")
def browser():
    playwright_api = pytest.importorskip("playwright.sync_api")
    executable = shutil.which("chromium")
    if executable is None:
        pytest.skip("chromium is not installed (apt-get install chromium)")
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=_CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def screenshots(tmp_path_factory) -> list[Path]:
    """Folders that keep the screenshots: pytest's, and REPORT_SCREENSHOTS when set."""
    folders = [tmp_path_factory.mktemp("screenshots")]
    if os.environ.get("REPORT_SCREENSHOTS"):
        folders.append(Path(os.environ["REPORT_SCREENSHOTS"]))
        folders[-1].mkdir(parents=True, exist_ok=True)
    return folders


def _open(browser, run_dir: Path, width: int, name: str = "report.html", **options):
    """A page showing the run's report (or another of its pages), with everything it logged
    collected."""
    page = browser.new_page(viewport={"width": width, "height": 900}, **options)
    messages: list[str] = []
    page.on("console", lambda message: messages.append(f"{message.type}: {message.text}"))
    page.on("pageerror", lambda error: messages.append(f"pageerror: {error}"))
    page.on(
        "dialog", lambda dialog: (messages.append(f"dialog: {dialog.message}"), dialog.dismiss())
    )
    page.on(
        "request",
        lambda request: (
            None if request.url.startswith("file:") else messages.append(f"request: {request.url}")
        ),
    )
    page.goto((run_dir / name).resolve().as_uri())
    return page, messages


def _shoot_and_check_width(page, screenshots: list[Path], name: str) -> None:
    """Save a full-page screenshot in every screenshot folder; the page must not scroll
    sideways."""
    for folder in screenshots:
        page.screenshot(path=str(folder / name), full_page=True)
    overflow = page.evaluate(
        "[document.documentElement.scrollWidth, document.documentElement.clientWidth]"
    )
    assert overflow[0] <= overflow[1], f"the page scrolls sideways: {overflow}"


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("task", TASKS)
def test_report_renders_cleanly_at_both_widths(browser, task_runs, screenshots, task, width):
    run_dir, _ = task_runs[task]
    page, messages = _open(browser, run_dir, width)
    try:
        _shoot_and_check_width(page, screenshots, f"{task}-{width}.png")
        sizes = page.evaluate(
            "Array.from(document.querySelectorAll('figure'), figure => {"
            " const svg = figure.querySelector('svg');"
            " const box = svg ? svg.getBoundingClientRect() : {width: 0, height: 0};"
            " return [box.width, box.height]; })"
        )
        expected = {"binary": 6, "multiclass": 5, "regression": 5}[task]  # no importance: 2 trials
        assert len(sizes) == expected and all(w > 50 and h > 50 for w, h in sizes), sizes
        # The headline says what metrics.json says.
        metrics = json.loads((run_dir / "metrics.json").read_text())
        headline = make_headline(
            task, metrics["exported_model"], metrics["baselines"], metrics["n_rows"]["test"]
        )
        assert page.inner_text("#result p.lead") == headline.sentence
        # A hostile column name is shown as text, and nothing ran or loaded (no dialog,
        # no CSP violation, no request): the one script is the page's own.
        assert HOSTILE_COLUMN in page.inner_text("#summary")
        assert page.evaluate("document.scripts.length") == 1
        assert messages == []
    finally:
        page.close()


def _column(page, index: int) -> list[str]:
    return page.eval_on_selector_all(
        "#trials-table tbody tr", f"rows => rows.map(row => row.cells[{index}].dataset.sort)"
    )


def test_sorting_a_column_changes_the_row_order(browser, task_runs):
    run_dir, _ = task_runs["regression"]
    page, messages = _open(browser, run_dir, 1400)
    try:
        headers = page.eval_on_selector_all(
            "#trials-table thead th", "cells => cells.map(cell => cell.innerText.trim())"
        )
        trial, objective = headers.index("trial"), headers.index("objective")
        before = _column(page, trial)
        assert before == sorted(before, key=float)  # trials listed in the order they started
        page.click("#trials-table thead th:nth-child(1) button")  # ascending: as before
        page.click("#trials-table thead th:nth-child(1) button")  # descending
        assert _column(page, trial) == before[::-1] != before
        assert page.get_attribute("#trials-table thead th:nth-child(1)", "aria-sort") == (
            "descending"
        )
        page.click(f"#trials-table thead th:nth-child({objective + 1}) button")
        scores = [float(v) for v in _column(page, objective)]
        assert scores == sorted(scores)  # numbers sort as numbers
        assert messages == []
    finally:
        page.close()


def test_the_page_reads_the_same_with_scripts_off(browser, task_runs):
    run_dir, _ = task_runs["multiclass"]
    page, messages = _open(browser, run_dir, 760, java_script_enabled=False)
    try:
        assert len(page.query_selector_all("#trials-table tbody tr")) == 2
        assert page.inner_text("#result p.lead").startswith("The exported model scores")
        width = page.evaluate(
            "[document.documentElement.scrollWidth, document.documentElement.clientWidth]"
        )
        assert width[0] <= width[1]
        assert messages == []
    finally:
        page.close()


@pytest.mark.parametrize("width", WIDTHS)
def test_the_progress_page_renders_cleanly_and_links_the_report(browser, task_runs, screenshots,
                                                                 width):
    run_dir, _ = task_runs["regression"]
    page, messages = _open(browser, run_dir, width, name="progress.html")
    try:
        _shoot_and_check_width(page, screenshots, f"progress-{width}.png")
        box = page.eval_on_selector("#scores svg", "svg => svg.getBoundingClientRect().toJSON()")
        assert box["width"] > 200 and box["height"] > 50, box
        assert page.inner_text("#state") == "finished"
        assert len(page.query_selector_all("#trials-table tbody tr")) == 2
        assert page.evaluate("document.scripts.length") == 0
        page.click("#report-link")  # the finished page leads to the report
        page.wait_for_selector("#result")
        assert page.url.endswith("/report.html") and messages == []
    finally:
        page.close()


def test_a_running_progress_page_reloads_itself(browser, tmp_path):
    from reports.progress import Progress, ProgressFacts, render_progress

    facts = ProgressFacts("t.csv", "y", "binary", {"train": 10}, 2)
    (tmp_path / "progress.html").write_text(render_progress(Progress(facts, total=3), refresh=1))
    page, messages = _open(browser, tmp_path, 760, name="progress.html")
    try:
        with page.expect_event("load", timeout=5000):  # the meta refresh, with no script
            pass
        assert page.inner_text("#state") == "running" and messages == []
    finally:
        page.close()
