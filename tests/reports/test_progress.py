"""progress.html as rendered from a search's ended trials, and the console's epoch line."""

from __future__ import annotations

import io
import math
import re
import xml.etree.ElementTree as ElementTree

import pytest

from common.records import TrialRecord
from reports.console import TerminalLine, epoch_line
from reports.progress import Progress, ProgressFacts, render_progress, score_plot, score_svg
from reports.scores import ScoreScale
from tests.conftest import HOSTILE_COLUMN

FACTS = ProgressFacts(
    source="<b>houses</b>.csv", target=HOSTILE_COLUMN, task="regression",
    rows={"train": 70, "validation": 15, "test": 15}, features=3,
    settings=(("tuner", "bayesian"),), started="10:00:00",
)


def _trials(scores, proposed=("start", "random", "model")) -> tuple[TrialRecord, ...]:
    """Trials 0, 1, ... with these objectives (None: failed), ended in that order."""
    return tuple(
        TrialRecord(
            str(i), "COMPLETED" if s is not None else "FAILED", s,
            {"layers": 1 + i % 2, "activation": "relu" if i % 2 else "<i>tanh</i>",
             "learning_rate": 0.001 * (i + 1)},
            epochs=7, seconds=1.25,
            message="" if s is not None else "training diverged <at epoch 3>",
            proposed_by=proposed[i % len(proposed)],
        )
        for i, s in enumerate(scores)
    )


def _rows(page: str) -> list[list[str]]:
    """The trials table's rows as cell texts."""
    body = page.split('<table id="trials-table">')[1].split("</tbody>")[0]
    return [[re.sub(r"<[^>]+>", "", cell) for cell in re.findall(r"<td[^>]*>(.*?)</td>", row)]
            for row in re.findall(r"<tr class=\"[^\"]*\">(.*?)</tr>", body)]


def test_a_running_page_reloads_and_lists_the_ended_trials_latest_first():
    progress = Progress(FACTS, _trials([0.5, None, 0.3]), total=10, running=("3", "4"),
                        elapsed=75.0, time_left="~2 min 10 s left")
    page = render_progress(progress, refresh=5)
    assert '<meta http-equiv="refresh" content="5">' in page
    assert "Searching: 3 of 10 trials done, about 2 min 10 s left." in page
    assert "Best so far: trial 2, val_loss 0.3000." in page
    assert "trial 3, trial 4" in page  # running now, with several workers
    rows = _rows(page)
    assert [row[:4] for row in rows] == [["2", "model", "completed · best", "0.3000"],
                                        ["1", "random", "failed", "—"],
                                        ["0", "start", "completed", "0.5000"]]
    # A failed trial says why, in a column of its own.
    assert rows[1][6] == "training diverged &lt;at epoch 3&gt;"
    assert '<tr class="best">' in page and '<tr class="failed">' in page


def test_every_string_from_the_data_is_escaped_and_nothing_may_run():
    page = render_progress(Progress(FACTS, _trials([0.5, 0.4]), total=2))
    for raw in (HOSTILE_COLUMN, "<b>houses</b>", "<i>tanh</i>"):
        assert raw not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "&lt;i&gt;tanh&lt;/i&gt;" in page
    assert "<script" not in page  # no script at all, and the CSP allows none
    csp = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', page).group(1)
    assert csp.startswith("default-src 'none';") and "script-src" not in csp


@pytest.mark.parametrize(
    ("state", "note", "says"),
    [
        ("finishing", "", "The search is over (2 trials)"),
        ("finished", "result: test accuracy 0.95", "result: test accuracy 0.95"),
        ("interrupted", "The search was stopped with Ctrl-C.", "--resume</code> continues"),
        ("failed", "All 2 trials failed <badly>", "All 2 trials failed &lt;badly&gt;"),
    ],
)
def test_each_end_of_the_run_is_said_and_only_a_live_page_reloads(state, note, says):
    page = render_progress(Progress(FACTS, _trials([0.5, 0.4]), total=2, state=state, note=note))
    assert says in page
    assert f'<span class="verdict {state}" id="state">{state}</span>' in page
    assert ('http-equiv="refresh"' in page) == (state == "finishing")
    assert ('<a href="report.html" id="report-link">' in page) == (state == "finished")


def test_an_unknown_state_is_refused():
    with pytest.raises(ValueError, match="unknown progress state 'done'"):
        render_progress(Progress(FACTS, state="done"))


def test_regression_scores_read_as_rmse_in_the_targets_units():
    scale = ScoreScale(target_std=1000.0)  # objective 0.25 -> RMSE √0.25 × 1000 = 500
    page = render_progress(Progress(FACTS, _trials([0.25, 0.36]), total=2, scale=scale))
    assert "Best so far: trial 0, val RMSE 500." in page
    assert [row[3] for row in _rows(page)] == ["600", "500"]
    assert "<th scope=\"col\" class=\"num\">val RMSE</th>" in page


def test_the_score_plot_cuts_off_an_outlier_and_marks_it():
    trials = _trials([0.31, 0.30, None, 0.29, 69.8, 0.28])
    plot = score_plot(trials, ScoreScale())
    assert plot.numbers == (0, 1, 2, 3, 4, 5)
    assert math.isnan(plot.scores[2]) and plot.clipped and plot.high < 1.0
    assert plot.best_so_far == (0.31, 0.30, 0.30, 0.29, 0.29, 0.28)
    svg = score_svg(plot, 'validation "loss" <x>')
    root = ElementTree.fromstring(str(svg))  # well-formed, and the label escaped
    tags = [element.tag.split("}")[1] for element in root.iter()]
    assert tags.count("circle") == 4  # the four scores on the axis
    # One triangle on the top edge for the outlier, one cross for the failed trial.
    assert sum(1 for e in root.iter() if e.get("d", "").endswith("z")) == 1
    assert sum(1 for e in root.iter() if "l8,8" in e.get("d", "")) == 1
    assert 'aria-label="validation &#34;loss&#34; &lt;x&gt; per trial"' in str(svg)
    assert score_plot(_trials([0.5, 0.4, 0.45, 0.6]), ScoreScale()).clipped is False
    assert score_plot(_trials([None]), ScoreScale()) is None  # nothing to draw yet


def test_the_plot_is_inert_drawing_markup(tmp_path):
    from reports.html import _checked_svg

    plot = score_plot(_trials([0.3, None, 0.2, 9.0, 0.25, 0.22]), ScoreScale())
    _checked_svg(str(score_svg(plot, "validation loss")))  # raises on anything but drawing


def test_the_epoch_line_names_the_trial_its_epoch_and_its_best():
    assert epoch_line("07", 34, 100, 0.2311, (31, 0.229)) == (
        "  trial 07  epoch 34/100  val_loss 0.2311  best 0.2290 (epoch 31)")
    scale = ScoreScale(target_std=1000.0)
    assert epoch_line("3", 2, 5, 0.25, (2, 0.25), scale) == (
        "  trial 3  epoch 2/5  val RMSE 500  best 500 (epoch 2)")
    assert epoch_line("3", 1, 5, None, None) == "  trial 3  epoch 1/5  val_loss -"


def test_the_terminal_line_rewrites_itself_and_blanks_before_other_output():
    stream = io.StringIO()
    line = TerminalLine(stream)
    line("  trial 1  epoch 1/9")
    line("  trial 1  epoch 2")  # shorter: what is left of the longer one is blanked
    line("")
    assert stream.getvalue() == ("\r  trial 1  epoch 1/9" + "\r  trial 1  epoch 2" + "  "
                                 + "\r" + " " * 18 + "\r")
