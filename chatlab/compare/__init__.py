"""The compare feature: one prompt over a grid of settings and models.

The sweep that runs the grid's cells in parallel, its budget, the slot that lets a
session run one sweep at a time and the diversity of the replies. What storage keeps
lives in the kernel, below storage, and is exported here too: the grid and its results
(``chatlab.grid``), test sets (``chatlab.testset``) and the CSV writer they export with
(``chatlab.csv_export``).

The evaluation core (issue 17) is here too, pure data and functions: ``{{variable}}``
templates (variables), assertions, LLM-as-judge messages and verdicts (judge), running
an evaluation (evaluation: each cell's messages, each result's checks), clusters of samples,
the pass-rate matrix's numbers (scores), the "what changed" summary and the YAML spec;
reading many samples: a run's cells clustered and its summary's inputs (reading), a word
diff of two outputs (word_diff). The two ``check`` functions are exported as
``check_variables`` and ``check_assertion``.
"""

from __future__ import annotations

from chatlab.compare.assertions import (
    ASSERTION_TYPES,
    Assertion,
    AssertionType,
    Scale,
    Verdict,
)
from chatlab.compare.assertions import check as check_assertion
from chatlab.compare.budget import Budget, Estimate, estimate, refusal, within_limits
from chatlab.compare.clusters import (
    MAX_COMPARED,
    SIMILARITY_THRESHOLD,
    Cluster,
    cluster,
    describe,
    normalise,
)
from chatlab.compare.evaluation import (
    JUDGE_MAX_TOKENS,
    Judge,
    assertion_name,
    composer,
    evaluator,
    reply_judge,
)
from chatlab.compare.judge import (
    DEFAULT_PASS_SCORE,
    JudgeError,
    JudgeVerdict,
    judge_messages,
    parse_verdict,
)
from chatlab.compare.link import MAX_LINK_PROMPT, Setup, from_query, to_query
from chatlab.compare.progress import Progress, progress_of
from chatlab.compare.reading import CellAnswers, answers_by_cell, figure_rows, outcomes, varied
from chatlab.compare.results import (
    ChartAxis,
    chart_axis,
    chart_rows,
    groups,
    setting_rows,
    table_rows,
)
from chatlab.compare.saver import SAVE_BACKOFF, RunSaver
from chatlab.compare.scoreboard import Rate, Scoreboard, scoreboard
from chatlab.compare.scores import (
    ALL_PASSED,
    RATED,
    ScoreRow,
    Tally,
    assertion_label,
    cell_text,
    column_labels,
    matrix_cells,
    score_rows,
    score_table,
)
from chatlab.compare.slot import SweepSlot
from chatlab.compare.spec import (
    SPEC_KEYS,
    EvalSpec,
    PromptVariant,
    assertion_data,
    assertion_from,
    dump_spec,
    load_spec,
    spec_problems,
)
from chatlab.compare.spec_error import SpecError
from chatlab.compare.summary import DEFAULT_GOAL, Cheapest, Figure, Outcome, Summary, summarise
from chatlab.compare.sweep import DEFAULT_CONCURRENCY, MAX_CONCURRENCY, Sweep
from chatlab.compare.variables import Problem, VariableError, names, render
from chatlab.compare.variables import check as check_variables
from chatlab.compare.word_diff import (
    MAX_ALIGNED,
    Segment,
    changed_words,
    diff_html,
    diff_words,
    sides,
)
from chatlab.csv_export import csv_text
from chatlab.testset import (
    MAX_CELL,
    MAX_FILE_BYTES,
    MAX_ROWS,
    TestSet,
    TestSetError,
    from_dicts,
    parse_csv,
    parse_jsonl,
    parse_test_file,
    to_csv,
    to_jsonl,
)

__all__ = [
    "ALL_PASSED",
    "ASSERTION_TYPES",
    "DEFAULT_CONCURRENCY",
    "DEFAULT_GOAL",
    "DEFAULT_PASS_SCORE",
    "JUDGE_MAX_TOKENS",
    "MAX_ALIGNED",
    "MAX_CELL",
    "MAX_COMPARED",
    "MAX_CONCURRENCY",
    "MAX_FILE_BYTES",
    "MAX_LINK_PROMPT",
    "MAX_ROWS",
    "RATED",
    "SAVE_BACKOFF",
    "SIMILARITY_THRESHOLD",
    "SPEC_KEYS",
    "Assertion",
    "AssertionType",
    "Budget",
    "CellAnswers",
    "ChartAxis",
    "Cheapest",
    "Cluster",
    "Estimate",
    "EvalSpec",
    "Figure",
    "Judge",
    "JudgeError",
    "JudgeVerdict",
    "Outcome",
    "Problem",
    "Progress",
    "PromptVariant",
    "Rate",
    "RunSaver",
    "Scale",
    "ScoreRow",
    "Scoreboard",
    "Segment",
    "Setup",
    "SpecError",
    "Summary",
    "Sweep",
    "SweepSlot",
    "Tally",
    "TestSet",
    "TestSetError",
    "VariableError",
    "Verdict",
    "answers_by_cell",
    "assertion_data",
    "assertion_from",
    "assertion_label",
    "assertion_name",
    "cell_text",
    "changed_words",
    "chart_axis",
    "chart_rows",
    "check_assertion",
    "check_variables",
    "cluster",
    "column_labels",
    "composer",
    "csv_text",
    "describe",
    "diff_html",
    "diff_words",
    "dump_spec",
    "estimate",
    "evaluator",
    "figure_rows",
    "from_dicts",
    "from_query",
    "groups",
    "judge_messages",
    "load_spec",
    "matrix_cells",
    "names",
    "normalise",
    "outcomes",
    "parse_csv",
    "parse_jsonl",
    "parse_test_file",
    "parse_verdict",
    "progress_of",
    "refusal",
    "render",
    "reply_judge",
    "score_rows",
    "score_table",
    "scoreboard",
    "setting_rows",
    "sides",
    "spec_problems",
    "summarise",
    "table_rows",
    "to_csv",
    "to_jsonl",
    "to_query",
    "varied",
    "within_limits",
]
