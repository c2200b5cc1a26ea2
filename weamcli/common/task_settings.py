"""The options that say which task and which files: shared by `weam finetune` and `weam evaluate`
(and the experiment TOML's ``[task]`` section)."""

from __future__ import annotations

from dataclasses import dataclass, replace

from weamcli.common.families import describe_files, family_names
from weamcli.common.settings import Settings, option
from weamcli.common.tasks import TASKS

CODE_STYLES = ("flores", "iso1")


def _built_in_tasks() -> str:
    """The built-in tasks by family, from the task table (for --help)."""
    by_kind: dict[str, list[str]] = {}
    for task in TASKS.values():
        if task.name != "custom":
            by_kind.setdefault(task.kind, []).append(task.name)
    return ", ".join(f"{', '.join(names)} ({kind})" for kind, names in by_kind.items())


TASK_TYPES = family_names()  # common.families


@dataclass(kw_only=True)
class TaskSettings(Settings):
    section = "task"

    task: str = option(
        help=f"{_built_in_tasks()}; custom (your --train/--dev/--test files); or your own task's name "
        "with --path-pattern.",
        grid="[experiment] task or tasks",
    )
    task_type: str | None = option(
        None,
        help=f"custom or own task: {describe_files()}; default: tagging for .conllu/.conll files, "
        "else classification.",
        choices=TASK_TYPES,
    )
    data_dir: str | None = option(
        None,
        help="Root of the task's local files ({root} in its patterns): e.g. a UD folder of "
        "UD_<Language>-<Treebank>/, a folder holding XNLI-1.0/ and multinli_1.0/, PAWS-X's x-final/.",
    )
    path_pattern: str | None = option(
        None,
        help="Your own multilingual task: where a split file is, e.g. '{root}/{lang}/{split}.tsv' "
        "({root}, {lang}, {split} are filled in).",
    )
    code_style: str | None = option(
        None,
        help="How your files name languages: flores (deu_Latn) or iso1 (de); default: the code as "
        "typed on --lang, else the first of its forms that has a file.",
        choices=CODE_STYLES,
    )
    train: str | None = option(
        None,
        help="English training file (custom; for built-in tasks it replaces the default, e.g. any "
        "SQuAD-v1.1 file for xquad).",
    )
    dev: str | None = option(None, help="English dev file (model selection); like --train.")
    test: str | None = option(
        None,
        help="The file(s) to score: a pattern with {lang} reads one file per language "
        "('data/{lang}.test.tsv' with --lang de,fr); without {lang} one file in one language.",
    )
    text_column: str | None = option(None, help="classification (custom or own task): the text column.")
    text_pair_column: str | None = option(None, help="classification: the second text of a pair.")
    label_column: str | None = option(None, help="classification: the label column.")
    id_column: str | None = option(None, help="classification: example id column (else row number).")

    def check_together(self) -> None:
        from weamcli.common.tasks import NOT_FINETUNED, OWN_TASKS, TASKS, unknown_placeholders

        own = self.task not in TASKS and self.task not in (*OWN_TASKS, *NOT_FINETUNED)
        known = [*TASKS, *OWN_TASKS, *NOT_FINETUNED]
        if own and self.path_pattern is None:
            import difflib

            close = difflib.get_close_matches(self.task, known, n=1)
            hint = f"did you mean '{close[0]}'? " if close else ""
            self.fail(
                "task",
                f"'{self.task}' is not a built-in task ({', '.join(known)}); {hint}"
                "for your own task give --path-pattern",
            )
        if self.path_pattern is not None and not own:
            self.fail(
                "path_pattern", f"is for your own task; with --task {self.task} use --train/--dev/--test"
            )
        for name in ("path_pattern", "train", "dev", "test"):
            value = getattr(self, name)
            if value and (bad := unknown_placeholders(value)):
                self.fail(
                    name, f"has an unknown placeholder {{{bad[0]}}} (use {{lang}}, {{root}}, {{split}})"
                )
        builtin = TASKS.get(self.task)
        if builtin is not None and self.task_type not in (None, builtin.kind):
            self.fail("task_type", f"is {builtin.kind} for task '{self.task}'")
        kind = self.kind
        if (self.task == "custom" or own) and kind == "classification":
            if not self.text_column or not self.label_column:
                self.fail("text_column", f"and --label-column are needed for task '{self.task}'")
        if self.task == "squad-format" and self.test is None:
            self.fail(
                "test", "is needed for --task squad-format: your SQuAD-format files, e.g. 'mlqa/{lang}.json'"
            )
        if self.task in NOT_FINETUNED and any(x is not None for x in (self.train, self.dev, self.test)):
            self.fail("train", f"--train/--dev/--test are not used by --task {self.task}")

    @property
    def kind(self) -> str:
        """The task's family (a name registered in ``common.families``)."""
        from weamcli.common.tasks import TASKS, kind_of_files

        if self.task in TASKS:
            return TASKS[self.task].kind
        return self.task_type or kind_of_files(self.path_pattern, self.train, self.dev, self.test)

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
                kind=self.kind,
                code_style=self.code_style,
            )
        given = {s: f for s, f in (("train", self.train), ("dev", self.dev), ("test", self.test)) if f}
        if self.task in TASKS:
            spec = with_root(get_task(self.task), self.data_dir)
            if self.code_style is not None:
                spec = replace(spec, code_style=self.code_style)
            if self.test:
                spec = replace(spec, test_data=self.test)
            return replace(spec, files={**spec.files, **given}) if given else spec
        pair = self.text_pair_column
        columns = (
            () if not self.text_column else (self.text_column,) if not pair else (self.text_column, pair)
        )
        return TaskSpec(
            name=self.task,
            kind=self.kind,
            text_columns=columns,
            label_column=self.label_column or "",
            labels=None,
            id_column=self.id_column,
            path_pattern=self.path_pattern,
            code_style=self.code_style,
            default_root=self.data_dir,
            files=given,
            test_data=self.test,
        )
