"""Tasks as small declarative entries, and loading their splits.

A task says what kind it is (sentence or sentence-pair ``classification``, word-level ``tagging``,
extractive ``qa``, ``multiple_choice``), where a language's split file is (a path pattern such as
``{root}/{lang}/{split}.tsv``; ``{file}`` takes a per-language entry of ``lang_files``, e.g. a UD
treebank), which columns and labels it has and, where there is one, the hub name. Adding a
sentiment or XCOPA-style task, or another treebank, is a new entry (or table line), not new code.

Every split file is found through a pattern, the built-in tasks' and a user's alike: ``--task
custom --test 'data/{lang}.test.tsv' --lang de,fr`` and ``--task mine --path-pattern
'{root}/{lang}/{split}.tsv'`` build the same kind of entry as SIB-200.
"""

from __future__ import annotations

import contextlib
import csv
import functools
import glob
import os
import random
import re
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from weamcli.common.choice_data import ChoiceSplit, read_choices
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
    """What weam needs to know about a task."""

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


@dataclass
class TaskSplit:
    """One language's classification split: texts (and pairs), string labels, example ids, origin."""

    task: str
    lang: str  # the code the data set uses, e.g. deu_Latn
    split: str
    source: str  # the file (or hub name) it came from
    texts: list[str]
    pairs: list[str] | None
    labels: list[str]
    ids: list[Any]
    unlabelled: int = 0  # rows the file marks as having no gold label, left out (MultiNLI's "-")

    def __len__(self) -> int:
        return len(self.texts)


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


def _missing(task: TaskSpec, lang_code: str, split: str, path: Path | None) -> WeamError:
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
    raise _missing(task, lang_code, split, path)


def load_split(task: TaskSpec, lang_code: str, split: str) -> TaskSplit:
    """Load one classification split from the local file, or from the hub when no local file exists."""
    if split not in SPLITS:
        raise WeamError(f"unknown split '{split}' (choose from {', '.join(SPLITS)})")
    path = split_path(task, lang_code, split)
    if path is not None and path.is_file():
        return _load_file(task, path, lang_code, split)
    if path is not None or task.hub_name is None:
        raise _missing(task, lang_code, split, path)
    return _load_hub(task, lang_code, split, local=path)


def _file_format(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".json"):
        return "json"
    return "csv"


def _check_fields(path: Path, delimiter: str, quoting: int) -> None:
    """Every row of a table has as many fields as its header: a ragged row is a one-line error
    naming its line (the table reader's own error names neither file line nor fix)."""
    with open(path, encoding="utf-8-sig", newline="") as fh:
        reader = csv.reader(fh, delimiter=delimiter, quoting=quoting)
        try:
            header = next(reader, None)
            if header is None:
                return
            for row in reader:
                if row and len(row) != len(header):
                    name = "tab" if delimiter == "\t" else repr(delimiter)
                    raise WeamError(
                        f"{len(row)} {name}-separated fields, but the header (line 1) has {len(header)}",
                        path,
                        reader.line_num,
                    )
        except csv.Error as exc:
            raise WeamError(f"cannot read it as a table ({exc})", path, reader.line_num) from None


@contextlib.contextmanager
def _quiet_datasets() -> Iterator[None]:
    import logging

    logger = logging.getLogger("datasets")
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(level)


@functools.lru_cache(maxsize=4)
def _read_table(path_text: str, mtime_ns: int, size: int, fmt: str) -> tuple[Any, int, dict[str, Any]]:
    """A data file as a ``datasets.Dataset`` (and its non-empty line count and reader options),
    read once per process while the file is unchanged: XNLI's one file holds every language, and an
    evaluation reads it once per language."""
    import datasets

    datasets.disable_progress_bars()
    path = Path(path_text)
    nonempty = 0
    with open(path, "rb") as fh:
        for number, raw in enumerate(fh, 1):
            try:  # checked here: the table reader's own error names neither the line nor the byte
                raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise WeamError(
                    f"invalid UTF-8 (byte 0x{raw[exc.start]:02x} at column {exc.start + 1})", path, number
                ) from None
            nonempty += bool(raw.strip())
    if nonempty <= (1 if fmt == "csv" else 0):
        return None, nonempty, {}
    kwargs: dict[str, Any] = {}
    if fmt == "csv":
        tsv = path.suffix.lower() in (".tsv", ".txt")
        # TSV text contains stray '"': with quoting on, pandas silently merges rows (QUOTE_NONE = 3).
        # na_filter off keeps texts like "NA" or "null" as text.
        kwargs = {"delimiter": "\t" if tsv else ",", "na_filter": False}
        if tsv:
            kwargs["quoting"] = csv.QUOTE_NONE
        _check_fields(path, kwargs["delimiter"], kwargs.get("quoting", csv.QUOTE_MINIMAL))
    try:
        with _quiet_datasets():  # its own log line of a parse error names no line: ours follows
            # data_files are glob patterns: a folder named "news[v2]" must match itself
            ds = datasets.load_dataset(fmt, data_files=glob.escape(str(path)), split="train", **kwargs)
    except Exception as exc:  # pandas / arrow parse errors carry long messages; keep the first line
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise WeamError(
            f"cannot read it as {'JSON lines' if fmt == 'json' else 'a table'} ({first})", path
        ) from None
    return ds, nonempty, kwargs


def _load_file(task: TaskSpec, path: Path, lang_code: str, split: str) -> TaskSplit:
    fmt = _file_format(path)
    header_lines = 1 if fmt == "csv" else 0
    stat = path.stat()
    ds, nonempty, kwargs = _read_table(str(path), stat.st_mtime_ns, stat.st_size, fmt)
    if nonempty <= header_lines:
        raise WeamError(f"the {split} split is empty", path)
    if len(ds) == 0:
        raise WeamError(f"the {split} split is empty", path)
    columns = set(ds.column_names)
    wanted = [*task.text_columns, task.label_column] + ([task.id_column] if task.id_column else [])
    missing = [c for c in wanted if c not in columns]
    if missing:
        raise WeamError(
            f"missing column(s) {', '.join(missing)} (found: {', '.join(ds.column_names)})",
            path,
            1 if fmt == "csv" else None,
        )
    if fmt == "csv" and kwargs.get("quoting") == csv.QUOTE_NONE:
        # with quoting off each row is one physical line: the file must hold exactly header + rows
        if nonempty != len(ds) + header_lines:
            raise WeamError(f"{nonempty - header_lines} data lines but {len(ds)} rows parsed", path)
    rows = list(range(len(ds)))
    if task.lang_column and task.lang_column in columns:
        # one file, every language (XNLI-1.0): keep this language's rows, remembering their lines
        rows = [i for i, v in enumerate(ds[task.lang_column]) if str(v) == lang_code]
        if not rows:
            raise WeamError(f"no rows for language '{lang_code}' in column '{task.lang_column}'", path)
    unlabelled = 0
    if task.no_label is not None:
        values = ds[task.label_column]
        kept = [i for i in rows if str(values[i]) != task.no_label]  # rows index the whole file
        unlabelled, rows = len(rows) - len(kept), kept
    ds = ds.select(rows) if len(rows) != len(ds) else ds

    def line(k: int) -> int:
        return rows[k] + 1 + header_lines

    labels = [str(v) for v in ds[task.label_column]]
    texts = [str(v) for v in ds[task.text_columns[0]]]
    pairs = [str(v) for v in ds[task.text_columns[1]]] if task.is_pair else None
    ids = list(ds[task.id_column]) if task.id_column else rows
    seen_ids: dict[str, int] = {}
    for k, example_id in enumerate(ids):
        # paired statistics match examples by id: a repeated id would silently merge two examples
        first = seen_ids.setdefault(str(example_id), k)
        if first != k:
            raise WeamError(
                f"example id '{example_id}' in column '{task.id_column}' repeats line {line(first)}",
                path,
                line(k),
            )
    for k, text in enumerate(texts):
        if not text.strip():
            raise WeamError(f"empty text in column '{task.text_columns[0]}'", path, line(k))
    if task.labels is not None:
        allowed = set(task.labels)
        for k, label in enumerate(labels):
            if label not in allowed:
                raise WeamError(
                    f"label '{label}' is not in the label set ({', '.join(task.labels)})", path, line(k)
                )
    return TaskSplit(task.name, lang_code, split, str(path), texts, pairs, labels, ids, unlabelled)


def _load_hub(task: TaskSpec, lang_code: str, split: str, *, local: Path | None) -> TaskSplit:
    from weamcli.common.models import offline

    if task.hub_name is None:
        raise WeamError(
            f"task '{task.name}' has no local {split} file for '{lang_code}' and no hub name", local
        )
    hint = f" and no local file at {local}" if local is not None else ""
    import datasets

    datasets.utils.logging.set_verbosity_error()  # "using the cached version" is not news
    try:
        # offline, datasets reads a copy it cached earlier (HF_HOME/datasets)
        ds = datasets.load_dataset(task.hub_name, lang_code, split=task.hub_splits[split])
    except Exception as exc:
        if offline() or os.environ.get("HF_DATASETS_OFFLINE", "0").lower() in ("1", "true", "yes", "on"):
            raise WeamError(
                f"task '{task.name}' needs the hub data set '{task.hub_name}' ({lang_code}, {split}){hint}, "
                "which is not in the local cache while HF_DATASETS_OFFLINE/HF_HUB_OFFLINE is set; download "
                "it where there is network, or pass --data-dir with a local copy"
            ) from None
        raise WeamError(
            f"cannot load hub data set '{task.hub_name}' ({lang_code}): {exc}".splitlines()[0]
        ) from None

    def col(name: str) -> str:
        return task.hub_columns.get(name, name)

    feature = ds.features.get(col(task.label_column))
    names = getattr(feature, "names", None)
    labels = [names[v] if names else str(v) for v in ds[col(task.label_column)]]
    keep = [
        i for i, v in enumerate(ds[col(task.label_column)]) if not (names and v < 0)
    ]  # XNLI marks none with -1
    texts = [str(ds[col(task.text_columns[0])][i]) for i in keep]
    pairs = [str(ds[col(task.text_columns[1])][i]) for i in keep] if task.is_pair else None
    ids = [ds[task.id_column][i] for i in keep] if task.id_column in ds.column_names else keep
    return TaskSplit(
        task.name,
        lang_code,
        split,
        f"hub:{task.hub_name}/{lang_code}",
        texts,
        pairs,
        [labels[i] for i in keep],
        ids,
    )


def label_set(task: TaskSpec, train: TaskSplit) -> tuple[str, ...]:
    """The task's labels, or (custom tasks without a declared set) those of the training split, sorted."""
    return task.labels if task.labels is not None else tuple(sorted(set(train.labels)))


# ----------------------------------------------------------------------------- tagging and QA splits


@dataclass
class TaggedSplit:
    """One language's word-tagging split: sentences of words with one tag each."""

    task: str
    lang: str
    split: str
    source: str
    sentences: list[Any]  # conllu.TaggedSentence

    def __len__(self) -> int:
        return len(self.sentences)

    @property
    def ids(self) -> list[str]:
        return [s.id for s in self.sentences]

    @property
    def labels(self) -> list[str]:
        """Every word's tag, in order (the label set is read from these)."""
        return [t for s in self.sentences for t in s.tags]

    def check_tags(self, allowed: tuple[str, ...]) -> None:
        """A tag the model was not trained on is an error naming the file and the word's line."""
        known = set(allowed)
        for sentence in self.sentences:
            for tag, line in zip(sentence.tags, sentence.lines, strict=True):
                if tag not in known:
                    raise WeamError(
                        f"tag '{tag}' does not occur in the training data ({', '.join(allowed)})",
                        self.source,
                        line,
                    )


@dataclass
class QASplit:
    """One language's extractive-QA split: questions with their context and gold answers."""

    task: str
    lang: str
    split: str
    source: str
    examples: list[Any]  # squad_format.QAExample

    def __len__(self) -> int:
        return len(self.examples)

    @property
    def ids(self) -> list[str]:
        return [e.id for e in self.examples]


AnySplit = TaskSplit | TaggedSplit | QASplit | ChoiceSplit


def load_task_split(task: TaskSpec, lang_code: str, split: str) -> AnySplit:
    """One split of any kind of task: rows, tagged sentences or questions."""
    if task.kind == "classification":
        return load_split(task, lang_code, split)
    path = split_path(task, lang_code, split)
    if path is None or not path.is_file():
        raise _missing(task, lang_code, split, path)
    if task.kind == "multiple_choice":
        return ChoiceSplit(task.name, lang_code, split, str(path), read_choices(path))
    if task.kind == "tagging":
        from weamcli.common.conllu import read_tagged

        part: AnySplit = TaggedSplit(task.name, lang_code, split, str(path), read_tagged(path))
        if task.labels is not None:
            part.check_tags(task.labels)
        return part
    from weamcli.common.squad_format import read_squad

    return QASplit(task.name, lang_code, split, str(path), read_squad(path))


def sample_split(part: AnySplit, n: int | None, seed: int | None) -> AnySplit:
    """At most ``n`` units of a split: the first n, or with ``seed`` a random n kept in file order
    (the same n for every model and fine-tuning seed: the sample's seed is not the training seed)."""
    if not n or n >= len(part):
        return part
    keep = list(range(n)) if seed is None else sorted(random.Random(seed).sample(range(len(part)), n))
    if isinstance(part, TaggedSplit):
        return replace(part, sentences=[part.sentences[i] for i in keep])
    if isinstance(part, (QASplit, ChoiceSplit)):
        return replace(part, examples=[part.examples[i] for i in keep])
    return replace(
        part,
        texts=[part.texts[i] for i in keep],
        pairs=[part.pairs[i] for i in keep] if part.pairs else None,
        labels=[part.labels[i] for i in keep],
        ids=[part.ids[i] for i in keep],
    )
