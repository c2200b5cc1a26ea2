"""`weam compare`'s one core function: build the table from evaluation rows and write it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from weamcli.common.output_folders import check_output_dir
from weamcli.common.run_records import RUN_RECORD
from weamcli.compare.build import compare_all
from weamcli.compare.settings import CompareSettings
from weamcli.compare.table import Comparison
from weamcli.compare.write import check_out_dir, default_out_dir, write_comparison


@dataclass
class ComparisonResult:
    comparisons: list[Comparison]  # one per task and metric
    written: dict[str, Path]

    @property
    def comparison(self) -> Comparison:
        """The first table (the only one for results of one task and metric)."""
        return self.comparisons[0]


def run_comparison(
    settings: CompareSettings,
    *,
    expected_models: dict[str, str] | None = None,
    expected_by_task: dict[str, dict[str, str]] | None = None,
    notes: Sequence[str] = (),
) -> ComparisonResult:
    """Compare (one table per task and metric), then write table.md, table.csv, plots and
    run.jsonl; ``notes`` are added to every table's notes (the experiment grid states the
    pre-training steps and epochs run there).

    The output folder is checked before the work: an earlier comparison there is replaced only
    with ``overwrite`` (and only once the new one is complete), a folder of other files never."""
    s = settings
    out = Path(s.out) if s.out is not None else default_out_dir(s.results)
    rule = dict.fromkeys(("table.md", RUN_RECORD))  # the rule every command's --overwrite follows
    check_output_dir(out, command="weam compare", markers=rule, inputs=s.results)
    check_out_dir(out, overwrite=s.overwrite)
    comparisons = compare_all(
        s.results,
        s.baseline,
        task=s.task,
        split=s.split,
        by=s.by,
        n_boot=s.bootstrap,
        seed=s.seed,
        expected_models=expected_models,
        expected_by_task=expected_by_task,
    )
    for comparison in comparisons:
        comparison.notes.extend(notes)
    return ComparisonResult(comparisons, write_comparison(comparisons, out))
