"""Every setting of `weam evaluate`, defined once (CLI flags, the core and the experiment TOML's
``[evaluate]`` section; the task options are shared with `weam finetune` and live in ``[task]``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from weamcli.common.settings import no_duplicates, option
from weamcli.common.task_settings import TaskSettings

EVAL_SPLITS = ("test", "dev")
DEFAULT_TATOEBA = "../shared/data/tatoeba"


@dataclass(kw_only=True)
class EvaluateSettings(TaskSettings):
    section = "evaluate"

    models: list[str] = option(
        help="Fine-tuned folder(s), comma-separated (a `weam finetune` output stands for all its seeds); "
        "any model for tatoeba.",
        flag="--model",
        short="-m",
        check=no_duplicates,
        grid="the grid's fine-tuned models",
    )
    langs: list[str] = option(
        ["all"],
        help="Languages, e.g. deu_Latn,swh_Latn or de,sw; 'all' is every language the task has data for.",
        flag="--lang",
        short="-l",
        check=no_duplicates,
    )
    split: str = option(
        "test", help="Split to score (English dev is for model selection).", choices=EVAL_SPLITS
    )
    results: str | None = option(
        None,
        help="JSON lines file the rows are appended to (default <model>/results.jsonl, or ./results.jsonl "
        "for a preset or hub name).",
        grid="each grid cell writes its own results.jsonl",
    )
    name: str | None = option(
        None, help="Model label in the rows (default from weam.json).", grid="the grid names its models"
    )
    layer: int = option(-1, help="tatoeba: hidden layer to mean-pool (-1 = last).")
    num_layers: int | None = option(
        None,
        help="tatoeba: keep only the first N encoder layers of the model (a plain model's size axis).",
        minimum=1,
        grid="[model] layers",
    )
    batch_size: int = option(32, help="Examples per forward pass.", minimum=1)
    bf16: bool | None = option(
        None,
        help="bf16 autocast for inference (default: on where the GPU supports it; on a CPU, where a short "
        "cached timing of inference on a 1-layer stand-in of this encoder says it pays). Recorded in "
        "run.jsonl.",
    )
    max_examples: int | None = option(
        None,
        help="Score only N units of each language: classification a fixed random sample (seed 0: the "
        "same positions in every language, so the same examples in parallel sets such as XNLI), "
        "tagging the first N sentences, QA a fixed random sample of N questions, the same ids in every "
        "language. 0 = all (default: all, except xquad 150). Rows record what was scored (n, ids).",
        minimum=0,
    )
    qa_normalisation: str = option(
        "auto",
        help="QA answer normalisation for F1/EM: squad (the official SQuAD v1.1 rules), mlqa (MLQA's: "
        "Unicode punctuation, each language's articles, per-character tokens for Chinese), auto "
        "(squad, with per-character tokens for languages written without spaces: zh, ja, th).",
        choices=("auto", "squad", "mlqa"),
    )

    def check_together(self) -> None:
        super().check_together()
        from weamcli.common.tasks import TASKS

        if self.max_examples is None and self.task in TASKS:  # a task's own default (XQuAD's sample)
            object.__setattr__(self, "max_examples", TASKS[self.task].evaluate_defaults.get("max_examples"))
        if self.task == "custom" and self.test is None and self.split == "test":
            self.fail("test", "FILE is needed: the file --task custom scores")
        if self.task == "custom" and self.split != "test":
            self.fail("split", "must stay at test: --task custom scores the --test file")
        if "all" in self.langs and len(self.langs) > 1:
            self.fail("langs", "'all' stands alone")
        if self.task != "tatoeba" and self.num_layers is not None:
            self.fail("num_layers", "is used by --task tatoeba only (fine-tuned models keep their depth)")
        if self.task == "tatoeba" and self.max_examples is not None:
            self.fail("max_examples", "is not used by --task tatoeba")
        single = self._one_language_file()
        if single is not None and len(self.langs) > 1:
            name, path = single
            self.fail(
                name,
                f"'{path}' names one file without {{lang}}, and one file is one language: give one "
                f"--lang (not {self.lang_text}), or a pattern such as 'data/{{lang}}{Path(path).suffix}' "
                "for one file per language",
            )

    def _one_language_file(self) -> tuple[str, str] | None:
        """The option and path of a scored file that holds one language (no ``{lang}``), or None:
        scoring it under several language codes would report the same file twice."""
        from weamcli.common.tasks import TASKS

        option, path = ("test", self.test) if self.split == "test" else ("dev", self.dev)
        builtin = TASKS.get(self.task)
        if path is None and builtin is None and self.task not in ("custom", "tatoeba"):
            option, path = "path_pattern", self.path_pattern  # an own task's one pattern
        if path is None or "{lang}" in path or "{file}" in path:
            return None
        if builtin is not None and builtin.lang_column:
            return None  # one file holds every language, a column says which (XNLI)
        return option, path

    @property
    def lang_text(self) -> str:
        return ",".join(self.langs)
