"""The compare feature: one prompt over a grid of settings and models.

The sweep that runs the grid's cells in parallel, its budget, the slot that lets a
session run one sweep at a time, the diversity of the replies and the CSV export. The
grid and its results as data live in ``chatlab.grid``, below storage.

The evaluation core (issue 17) is here too, pure data and functions: ``{{variable}}``
templates (variables), test sets (testset), assertions, LLM-as-judge messages and verdicts
(judge), clusters of samples, the "what changed" summary and the YAML spec. The two
``check`` functions are exported as ``check_variables`` and ``check_assertion``.
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
from chatlab.compare.clusters import SIMILARITY_THRESHOLD, Cluster, cluster, describe, normalise
from chatlab.compare.csv_export import csv_text
from chatlab.compare.judge import (
    DEFAULT_PASS_SCORE,
    JudgeError,
    JudgeVerdict,
    judge_messages,
    parse_verdict,
)
from chatlab.compare.link import MAX_LINK_PROMPT, Setup, from_query, to_query
from chatlab.compare.progress import Progress, progress_of
from chatlab.compare.results import (
    ChartAxis,
    chart_axis,
    chart_rows,
    groups,
    setting_rows,
    table_rows,
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
from chatlab.compare.testset import (
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
from chatlab.compare.variables import Problem, VariableError, names, render
from chatlab.compare.variables import check as check_variables

__all__ = [
    "ASSERTION_TYPES",
    "DEFAULT_CONCURRENCY",
    "DEFAULT_GOAL",
    "DEFAULT_PASS_SCORE",
    "MAX_CELL",
    "MAX_CONCURRENCY",
    "MAX_FILE_BYTES",
    "MAX_LINK_PROMPT",
    "MAX_ROWS",
    "SIMILARITY_THRESHOLD",
    "SPEC_KEYS",
    "Assertion",
    "AssertionType",
    "Budget",
    "ChartAxis",
    "Cheapest",
    "Cluster",
    "Estimate",
    "EvalSpec",
    "Figure",
    "JudgeError",
    "JudgeVerdict",
    "Outcome",
    "Problem",
    "Progress",
    "PromptVariant",
    "Scale",
    "Setup",
    "SpecError",
    "Summary",
    "Sweep",
    "SweepSlot",
    "TestSet",
    "TestSetError",
    "VariableError",
    "Verdict",
    "assertion_data",
    "assertion_from",
    "chart_axis",
    "chart_rows",
    "check_assertion",
    "check_variables",
    "cluster",
    "csv_text",
    "describe",
    "dump_spec",
    "estimate",
    "from_dicts",
    "from_query",
    "groups",
    "judge_messages",
    "load_spec",
    "names",
    "normalise",
    "parse_csv",
    "parse_jsonl",
    "parse_test_file",
    "parse_verdict",
    "progress_of",
    "refusal",
    "render",
    "setting_rows",
    "spec_problems",
    "summarise",
    "table_rows",
    "to_csv",
    "to_jsonl",
    "to_query",
    "within_limits",
]
