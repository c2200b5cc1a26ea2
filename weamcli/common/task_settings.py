"""The options that say which task and which files: shared by `weam finetune` and `weam evaluate`
(and the experiment TOML's ``[task]`` section)."""

from __future__ import annotations

from dataclasses import dataclass

from weamcli.common.settings import Settings, option

CODE_STYLES = ("flores", "iso1")


@dataclass(kw_only=True)
class TaskSettings(Settings):
    section = "task"

    task: str = option(
        help="sib200, xnli, paws-x; custom (with --train/--dev/--test files); or your own task's name "
        "with --path-pattern.",
        grid="[experiment] task",
    )
    data_dir: str | None = option(None, help="Root of the task's local files ({root} in --path-pattern).")
    path_pattern: str | None = option(
        None,
        help="Your own multilingual task: where a split file is, e.g. '{root}/{lang}/{split}.tsv' "
        "({root}, {lang}, {split} are filled in).",
    )
    code_style: str = option(
        "flores",
        help="How --path-pattern names languages: flores (deu_Latn) or iso1 (de).",
        choices=CODE_STYLES,
    )
    train: str | None = option(None, help="custom: English training file (TSV/CSV/JSONL).")
    dev: str | None = option(None, help="custom: English dev file (model selection).")
    test: str | None = option(None, help="custom: the file to score.")
    text_column: str | None = option(None, help="custom or own task: the text column.")
    text_pair_column: str | None = option(None, help="custom or own task: the second text of a pair.")
    label_column: str | None = option(None, help="custom or own task: the label column.")
    id_column: str | None = option(None, help="custom or own task: example id column (else row number).")

    def check_together(self) -> None:
        from weamcli.common.tasks import TASKS

        own = self.task not in TASKS and self.task not in ("custom", "tatoeba")
        if own and self.path_pattern is None:
            import difflib

            known = [*TASKS, "custom", "tatoeba"]
            close = difflib.get_close_matches(self.task, known, n=1)
            hint = f"did you mean '{close[0]}'? " if close else ""
            self.fail(
                "task",
                f"'{self.task}' is not a built-in task ({', '.join(known)}); {hint}"
                "for your own task give --path-pattern",
            )
        if (self.task == "custom" or own) and (not self.text_column or not self.label_column):
            self.fail("text_column", f"and --label-column are needed for task '{self.task}'")
        if self.task != "custom" and any(x is not None for x in (self.train, self.dev, self.test)):
            self.fail("train", "--train/--dev/--test are for --task custom; use --data-dir for other tasks")

    def task_spec(self):
        """The ``TaskSpec`` these options describe."""
        from weamcli.common.tasks import TASKS, TaskSpec, custom_task, get_task, with_root

        if self.task == "custom":
            return custom_task(
                train=self.train,
                dev=self.dev,
                test=self.test,
                text_column=self.text_column,
                label_column=self.label_column,
                text_pair_column=self.text_pair_column,
                id_column=self.id_column,
            )
        if self.task in TASKS:
            return with_root(get_task(self.task), self.data_dir)
        pair = self.text_pair_column
        return TaskSpec(
            name=self.task,
            text_columns=(self.text_column,) if not pair else (self.text_column, pair),
            label_column=self.label_column,
            labels=None,
            id_column=self.id_column,
            path_pattern=self.path_pattern,
            code_style=self.code_style,
            default_root=self.data_dir,
        )
