"""Tasks as small declarative entries: their files, their languages (reading the splits is
``common.task_splits``).

A task (``TaskSpec``) says what kind it is (a family of ``common.families``), where a language's
split file is (a path pattern such as ``{root}/{lang}/{split}.tsv``), which columns and labels it
has and, where there is one, the hub name. Adding a sentiment or XCOPA-style task, or another
treebank, is a new entry (or table line), not new code; a user's own task builds the same kind of
entry (``custom_task``).
"""

from __future__ import annotations

import csv
import glob
import os
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from weamcli.common.errors import WeamError
from weamcli.common.families import all_families, family_names
from weamcli.common.files import missing_file
from weamcli.common.languages import Language, language

SPLITS = ("train", "dev", "test")
KINDS = family_names()  # common.families
UNITS = {f.name: f.unit for f in all_families()}  # the unit `weam compare` resamples
PLACEHOLDERS = ("root", "lang", "split", "file")
SHARED_DATA = "../shared/data"


@dataclass(frozen=True)
class TaskSpec:
    """What weam needs to know about a task: its kind (sentence or sentence-pair
    ``classification``, word-level ``tagging``, extractive ``qa``, ``multiple_choice``), its files
    (``path_pattern``; ``{file}`` takes a per-language entry of ``lang_files``, e.g. a UD treebank),
    columns, labels and hub name.

    Every split file is found through a pattern, the built-in tasks' and a user's alike: ``--task
    custom --test 'data/{lang}.test.tsv' --lang de,fr`` and ``--task mine --path-pattern
    '{root}/{lang}/{split}.tsv'`` build the same kind of entry as SIB-200."""

    name: str
    text_columns: tuple[str, ...] = ()  # classification: one column (sentences) or two (pairs)
    label_column: str = ""
    labels: tuple[str, ...] | None = None  # None: the labels (tags) found in the English training split
    id_column: str | None = None  # None: the row number is the example id
    # how a split file is found; {root}, {lang}, {split} (from split_files) and {file} are filled in
    path_pattern: str = "{root}/{lang}/{split}.tsv"
    split_files: dict[str, str] = field(default_factory=lambda: {s: s for s in SPLITS})
    # which code names a language's files: "flores" (deu_Latn), "iso1" (de), or None: the code as
    # the user typed it (else the first of its forms with a file)
    code_style: str | None = "flores"
    source_lang: str = "en"  # the language fine-tuned on; every other language is zero-shot
    default_root: str | None = None  # relative to the working directory
    hub_name: str | None = None
    hub_splits: dict[str, str] = field(
        default_factory=lambda: {"train": "train", "dev": "validation", "test": "test"}
    )
    hub_columns: dict[str, str] = field(default_factory=dict)  # local column -> the hub's name for it
    # split -> its own pattern, overriding path_pattern for that split (a file without {lang} holds
    # one language)
    files: dict[str, str] = field(default_factory=dict)
    kind: str = "classification"
    lang_files: dict[str, str] = field(default_factory=dict)  # language code -> {file} (UD treebanks)
    lang_column: str | None = None  # a file holding every language, this column saying which (XNLI)
    root_subdir: str | None = None  # --data-dir may name the folder holding it (PAWS-X's x-final/)
    # the user's --test files (a pattern with {lang}, or one file): any language code they have files
    # for is scored, by a model of this kind fine-tuned on any task; rows record it (compare keeps
    # rows of different test data apart)
    test_data: str | None = None
    # a label value meaning "no gold label": such rows are left out and counted, not an error
    # (MultiNLI's dev files mark pairs without annotator agreement "-"; its own evaluation drops them)
    no_label: str | None = None
    missing_hints: dict[str, str] = field(default_factory=dict)  # split -> what to do when its file is absent
    finetune_defaults: dict[str, Any] = field(default_factory=dict)  # the task's own fine-tuning defaults
    evaluate_defaults: dict[str, Any] = field(default_factory=dict)  # its own `weam evaluate` defaults

    @property
    def reads_user_tests(self) -> bool:
        """Whether the test split is the user's files, one per language (``--test 'dir/{lang}.ext'``)."""
        return self.test_data is not None and "{lang}" in self.test_data

    @property
    def is_pair(self) -> bool:
        return len(self.text_columns) == 2

    @property
    def unit(self) -> str:
        return UNITS[self.kind]

    def file_code(self, lang: Language) -> str:
        return lang.flores if self.code_style == "flores" else lang.code

    def pattern(self, split: str) -> str | None:
        """The split's file pattern, or None when the task has no local file for it."""
        pattern = self.files.get(split, self.path_pattern)
        if self.default_root is None and "{root}" in pattern:
            return None  # no local root (XNLI's train file too): the hub, if the task has a name there
        return pattern

    @property
    def per_language(self) -> bool:
        """Whether files differ by language (else one file holds one language, or all with lang_column)."""
        return any("{lang}" in (self.pattern(s) or "") or "{file}" in (self.pattern(s) or "") for s in SPLITS)


SIB200 = TaskSpec(
    name="sib200",
    text_columns=("text",),
    label_column="category",
    labels=("science/technology", "travel", "politics", "sports", "health", "entertainment", "geography"),
    id_column="index_id",
    default_root=f"{SHARED_DATA}/sib200/data/annotated",
    hub_name="Davlan/sib200",
)

# XNLI: the hub name, or with --data-dir the XNLI-1.0 distribution (xnli.{dev,test}.tsv: every
# language in one file, a `language` column) beside MultiNLI 1.0 (the English training data)
XNLI = TaskSpec(
    name="xnli",
    text_columns=("sentence1", "sentence2"),
    label_column="gold_label",
    labels=("entailment", "neutral", "contradiction"),
    id_column="pairID",
    code_style="iso1",
    path_pattern="{root}/XNLI-1.0/xnli.{split}.tsv",
    files={"train": "{root}/multinli_1.0/multinli_1.0_train.txt"},
    lang_column="language",
    no_label="-",
    missing_hints={
        "train": "MultiNLI 1.0's training file; or pass another English NLI file with --train, e.g. "
        "multinli_1.0/multinli_1.0_dev_matched.txt (pairs without a gold label are left out)"
    },
    hub_name="xnli",
    hub_columns={"sentence1": "premise", "sentence2": "hypothesis", "gold_label": "label"},
    # a fixed random 10,000 of MultiNLI's 392,702 pairs for 3 epochs: e5-small's English dev
    # accuracy still rose from 3,000 to 9,815 pairs (63.5 → 70.8) and peaked at epoch 2 (README,
    # "XNLI zero-shot"); 0 trains on all of them (a GPU's budget)
    finetune_defaults={"max_train_examples": 10000, "train_sample_seed": 0, "epochs": 3.0},
)

# PAWS-X: the hub name, or with --data-dir Google's released x-final/<lang>/{train,dev_2k,test_2k}.tsv
PAWSX = TaskSpec(
    name="paws-x",
    text_columns=("sentence1", "sentence2"),
    label_column="label",
    labels=("0", "1"),
    id_column="id",
    code_style="iso1",
    hub_name="paws-x",
    split_files={"train": "train", "dev": "dev_2k", "test": "test_2k"},
    root_subdir="x-final",
)

# UD-POS (XTREME-R): English-EWT to fine-tune and select on; one treebank per language to test.
# language -> treebank folder and file stem; a new language is one line here
UD_TREEBANKS = {
    "en": "UD_English-EWT/en_ewt",
    "de": "UD_German-GSD/de_gsd",
    "es": "UD_Spanish-GSD/es_gsd",
    "fr": "UD_French-GSD/fr_gsd",
    "it": "UD_Italian-ISDT/it_isdt",
    "ru": "UD_Russian-GSD/ru_gsd",
    "zh": "UD_Chinese-GSDSimp/zh_gsdsimp",
    "ja": "UD_Japanese-GSD/ja_gsd",
    "hi": "UD_Hindi-PUD/hi_pud",
    "ar": "UD_Arabic-PUD/ar_pud",
    "tr": "UD_Turkish-IMST/tr_imst",
    "vi": "UD_Vietnamese-VTB/vi_vtb",
    "yo": "UD_Yoruba-YTB/yo_ytb",
    "wo": "UD_Wolof-WTB/wo_wtb",
    "ha": "UD_Hausa-NorthernAutogramm/ha_northernautogramm",
}
UDPOS = TaskSpec(
    name="udpos",
    kind="tagging",
    code_style="iso1",
    path_pattern="{root}/{file}-ud-{split}.conllu",
    lang_files=UD_TREEBANKS,
    default_root=f"{SHARED_DATA}/ud",
    # 2,000 of EWT's 12,544 training sentences and 500 of its 2,001 dev sentences (fixed random
    # samples): one fine-tune and evaluation stays near 10 min on 2 CPU cores (bench/task_cost.py)
    finetune_defaults={"max_train_examples": 2000, "max_dev_examples": 500, "train_sample_seed": 0},
)

# XQuAD: English TyDiQA-GoldP to fine-tune and select on (--train/--dev for other SQuAD-format
# files), xquad.<lang>.json to test
_TYDIQA = f"{SHARED_DATA}/tydiqa_goldp"
XQUAD = TaskSpec(
    name="xquad",
    kind="qa",
    code_style="iso1",
    path_pattern="{root}/xquad.{lang}.json",
    default_root=f"{SHARED_DATA}/xquad",
    files={"train": f"{_TYDIQA}/english_tydiqa_train.json", "dev": f"{_TYDIQA}/english_tydiqa_dev.json"},
    # 400 of TyDiQA's 3,696 training questions and 200 of its 440 dev questions (fixed random
    # samples), and 150 of XQuAD's 1,190 questions a language (the same ids in all 12): one
    # fine-tune and evaluation of e5-small stays near 10 min on 2 CPU cores (README, "Measured
    # here"); the whole test set alone took 45 min. lr 2e-4, not the QA kind's 1e-4: with 56 steps
    # it gained 4 F1 on English XQuAD and 7 on TyDiQA dev (3e-4 lost again)
    finetune_defaults={
        "max_train_examples": 400,
        "max_dev_examples": 200,
        "train_sample_seed": 0,
        "lr": 2e-4,
    },
    evaluate_defaults={"max_examples": 150},
)
# any SQuAD-format test files (MLQA, TyDiQA-GoldP, ...): --test 'dir/{lang}.json'; the user's own
# files are scored in full unless --max-examples says otherwise
SQUAD_FORMAT = replace(XQUAD, name="squad-format", default_root=None, code_style=None, evaluate_defaults={})

# XCOPA (XTREME-R's copy): English COPA to fine-tune on (train-en, 400; val-en, 100, to select on;
# test-en, 500, for the English score) and val/test-<lang>.jsonl in 11 languages; no shared copy
XCOPA = TaskSpec(
    name="xcopa",
    kind="multiple_choice",
    code_style="iso1",
    path_pattern="{root}/{split}-{lang}.jsonl",
    split_files={"train": "train", "dev": "val", "test": "test"},
    default_root=f"{SHARED_DATA}/xcopa",
    root_subdir="xcopa",
)

TASKS: dict[str, TaskSpec] = {t.name: t for t in (SIB200, XNLI, PAWSX, UDPOS, XQUAD, SQUAD_FORMAT, XCOPA)}
NOT_FINETUNED = ("tatoeba",)  # evaluate-only tasks handled outside this table
OWN_TASKS = ("custom",)


def get_task(name: str) -> TaskSpec:
    if name not in TASKS:
        known = ", ".join([*TASKS, *OWN_TASKS, *NOT_FINETUNED])
        raise WeamError(f"unknown task '{name}' (choose from {known})")
    return TASKS[name]


def kind_of_files(*paths: str | None) -> str:
    """The task kind files imply: CoNLL(-U) is tagging, everything else classification (QA needs
    ``--task-type qa`` or a QA task: SQuAD JSON and JSON-lines rows both end in .json)."""
    suffixes = {Path(p).suffix.lower() for p in paths if p}
    return "tagging" if suffixes & {".conllu", ".conll"} else "classification"


def custom_task(
    *,
    train: str | None,
    dev: str | None,
    test: str | None,
    text_column: str | None = None,
    label_column: str | None = None,
    text_pair_column: str | None = None,
    labels: tuple[str, ...] | None = None,
    id_column: str | None = None,
    kind: str | None = None,
    code_style: str | None = None,
    name: str = "custom",
) -> TaskSpec:
    """A task from your files: TSV/CSV/JSONL rows, CoNLL-U / two-column CoNLL, or SQuAD JSON.

    Each file may be a pattern with ``{lang}`` (``data/{lang}.test.tsv``): evaluation then reads
    one file per language and each row records its language; a file without ``{lang}`` holds one
    language (English unless ``--lang`` names another)."""
    files = {s: f for s, f in (("train", train), ("dev", dev), ("test", test)) if f}
    if not files:
        raise WeamError("the custom task needs at least one of --train, --dev, --test")
    kind = kind or kind_of_files(*files.values())
    cols: tuple[str, ...] = ()
    if kind == "classification":
        if not text_column or not label_column:
            raise WeamError("--text-column and --label-column are needed for a classification task")
        cols = (text_column,) if not text_pair_column else (text_column, text_pair_column)
    return TaskSpec(
        name=name,
        kind=kind,
        text_columns=cols,
        label_column=label_column or "",
        labels=labels,
        id_column=id_column,
        files=files,
        code_style=code_style,
        test_data=test,
    )


def with_root(task: TaskSpec, root: str | os.PathLike | None) -> TaskSpec:
    """The task reading its files under ``root`` (``--data-dir``) instead of its default."""
    if root is None:
        return task
    if not Path(root).is_dir():
        raise WeamError("data folder not found (--data-dir)", root)
    if task.root_subdir and (Path(root) / task.root_subdir).is_dir():
        root = Path(root) / task.root_subdir
    return replace(task, default_root=str(root))


def fill_pattern(
    pattern: str, *, root: str | None = None, lang: str = "", split: str = "", file: str = ""
) -> str:
    """A file pattern with its placeholders filled (plain replacement: other braces stay as they are)."""
    values = {"root": root or "", "lang": lang, "split": split, "file": file}
    for key, value in values.items():
        pattern = pattern.replace("{" + key + "}", value)
    return pattern


def unknown_placeholders(pattern: str) -> list[str]:
    return [p for p in re.findall(r"\{(\w+)\}", pattern) if p not in PLACEHOLDERS]


def split_path(task: TaskSpec, lang_code: str, split: str) -> Path | None:
    """The local file of a split, or None when the task has no local file for it."""
    pattern = task.pattern(split)
    if pattern is None:
        return None
    return Path(
        fill_pattern(
            pattern,
            root=task.default_root,
            lang=lang_code,
            split=task.split_files.get(split, split),
            file=task.lang_files.get(lang_code, lang_code),
        )
    )


def _lookup(code: str) -> Language | None:
    try:
        return language(code)
    except WeamError:
        return None


def _has_files(task: TaskSpec, code: str) -> bool:
    return any((p := split_path(task, code, s)) is not None and p.is_file() for s in SPLITS)


def resolve_language(task: TaskSpec, code: str) -> tuple[str, Language | None]:
    """``code`` as the task's file code, with weam's Language where weam knows it.

    A data set code weam's table lacks (SIB-200 has 205 languages) is accepted as is when the task
    has files for it."""
    code = code.strip()
    lang = _lookup(code)
    forms = [code] + ([f for f in (lang.code, lang.iso3, lang.flores) if f] if lang else [])
    if task.lang_files and not task.reads_user_tests:
        for form in forms:
            if form in task.lang_files:
                return form, lang
        raise WeamError(
            f"task '{task.name}' has no data for language '{code}' in its table "
            f"({', '.join(task.lang_files)})"
        )
    if not task.per_language:
        # one file per split: it holds one language (the one named), or all with a language column
        if lang is None and task.lang_column is None:
            raise WeamError(
                f"unknown language code '{code}' (use ISO 639-1 like 'de', ISO 639-3 like 'deu', or "
                "a Flores-200 code like 'deu_Latn')"
            )
        return (lang.code if lang else code), lang
    if task.code_style is None:
        for form in dict.fromkeys(forms):
            if _has_files(task, form):
                return form, lang
        return code, lang
    if lang is not None:
        return task.file_code(lang), lang
    if _has_files(task, code) or (task.default_root and (Path(task.default_root) / code).is_dir()):
        return code, known_language(code)
    language(code)  # the one-line unknown-code error
    raise AssertionError("unreachable")


def known_language(file_code: str) -> Language | None:
    """weam's Language for a data set code, trying its ISO 639-3 part (``zho_Hant`` → Chinese)."""
    for candidate in (file_code, file_code.split("_")[0]):
        try:
            return language(candidate)
        except WeamError:
            continue
    return None


def available_languages(task: TaskSpec, split: str = "test") -> list[str]:
    """Every language code the task has a local ``split`` file for (``--lang all``)."""
    pattern = task.pattern(split)
    if task.lang_files and not (split == "test" and task.reads_user_tests):
        found = [c for c in task.lang_files if (p := split_path(task, c, split)) and p.is_file()]
        if not found:
            raise WeamError(
                f"no {split} file for any language of task '{task.name}' (pass --data-dir)", task.default_root
            )
        return found
    if pattern is None:
        if task.default_root is None or not Path(task.default_root).is_dir():
            raise WeamError(f"no local data for task '{task.name}' (pass --data-dir)", task.default_root)
        raise WeamError(f"task '{task.name}' has no local {split} files", task.default_root)
    if "{lang}" not in pattern:
        path = split_path(task, task.source_lang, split)
        if task.lang_column:
            return _column_values(path, task.lang_column)
        return [resolve_language(task, task.source_lang)[0]]
    if "{root}" in pattern and (task.default_root is None or not Path(task.default_root).is_dir()):
        raise WeamError(f"no local data for task '{task.name}' (pass --data-dir)", task.default_root)
    return _glob_languages(pattern, task.default_root, task.split_files.get(split, split))


def _glob_languages(pattern: str, root: str | None, split: str) -> list[str]:
    """The ``{lang}`` values for which ``pattern`` names an existing file."""
    mark = "\0"  # no path holds a NUL: a safe stand-in for {lang}
    filled = fill_pattern(pattern, root=root, split=split, lang=mark)
    parts = filled.split(mark)
    later = "".join("(?P=lang)" + re.escape(p) for p in parts[2:])  # {lang} used twice: the same code
    regex = re.compile("^" + re.escape(parts[0]) + "(?P<lang>[^/\\\\]+?)" + re.escape(parts[1]) + later + "$")
    hits = glob.glob("*".join(glob.escape(p) for p in parts))
    found = sorted({m.group("lang") for hit in hits if (m := regex.match(hit)) and Path(hit).is_file()})
    if not found:
        raise WeamError(
            f"no {split} file matches the pattern {pattern}", root if "{root}" in pattern else None
        )
    return found


def _column_values(path: Path | None, column: str) -> list[str]:
    """The distinct values of one column of a TSV (XNLI's language column), in first-seen order."""
    if path is None or not path.is_file():
        raise missing_file(path)
    with open(path, encoding="utf-8", newline="") as fh:
        reader = csv.reader(fh, delimiter="\t", quoting=csv.QUOTE_NONE)
        header = next(reader, [])
        if column not in header:
            raise WeamError(f"no '{column}' column (found: {', '.join(header)})", path, 1)
        k = header.index(column)
        return list(dict.fromkeys(row[k] for row in reader if len(row) > k))


def missing_split(task: TaskSpec, lang_code: str, split: str, path: Path | None) -> WeamError:
    """The one-line error for a split without a file."""
    if task.files and task.default_root is None and path is None:
        return WeamError(f"no {split} file given (--{split})")
    if (
        path is not None
        and task.default_root
        and not Path(task.default_root).is_dir()
        and "{root}" in (task.pattern(split) or "")
    ):
        return WeamError(f"no local data for task '{task.name}' (pass --data-dir)", task.default_root)
    if path is not None and not task.per_language and split in task.files:
        error = missing_file(path)
        hint = task.missing_hints.get(split)
        return WeamError(f"{error.message} ({hint})", path) if hint else error
    return WeamError(f"task '{task.name}' has no {split} data for language '{lang_code}'", path)


def check_split_available(task: TaskSpec, code: str, split: str) -> None:
    """Fail now, with the error reading it would give, when ``split`` of language ``code`` has no
    file (nothing is read: `weam experiment --plan` checks every file a grid will read this way).
    A split only the hub has is left to the read."""
    lang_code = resolve_language(task, code)[0]
    path = split_path(task, lang_code, split)
    if path is not None and path.is_file():
        return
    if path is None and task.hub_name is not None and task.kind == "classification":
        return
    raise missing_split(task, lang_code, split, path)
