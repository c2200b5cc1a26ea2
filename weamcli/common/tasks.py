"""Classification tasks as small declarative entries, and loading their splits through `datasets`.

A task says which columns hold the text(s) and the label, which labels exist, how a language's
split file is found (a path pattern such as ``{root}/{lang}/{split}.tsv``) and, where there is one,
the hub name. Adding a sentiment or XCOPA-style task is a new ``TaskSpec`` entry, not new code.
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from weamcli.common.errors import WeamError
from weamcli.common.languages import Language, language

SPLITS = ("train", "dev", "test")


@dataclass(frozen=True)
class TaskSpec:
    """What weam needs to know about a classification task (single sentences or sentence pairs)."""

    name: str
    text_columns: tuple[str, ...]  # one column: sentence classification; two: sentence pairs
    label_column: str
    labels: tuple[str, ...] | None  # None: the labels found in the English training split
    id_column: str | None = None  # None: the row number is the example id
    # how a split file is found; {root}, {lang} and {split} are filled in ({split} from split_files)
    path_pattern: str = "{root}/{lang}/{split}.tsv"
    split_files: dict[str, str] = field(default_factory=lambda: {s: s for s in SPLITS})
    code_style: str = "flores"  # which code names a language's files: "flores" (deu_Latn) or "iso1" (de)
    source_lang: str = "en"  # the language fine-tuned on; every other language is zero-shot
    default_root: str | None = None  # relative to the working directory
    hub_name: str | None = None
    hub_splits: dict[str, str] = field(
        default_factory=lambda: {"train": "train", "dev": "validation", "test": "test"}
    )
    # explicit files (the `custom` task): split -> path; overrides path_pattern
    files: dict[str, str] = field(default_factory=dict)

    @property
    def is_pair(self) -> bool:
        return len(self.text_columns) == 2

    def file_code(self, lang: Language) -> str:
        return lang.flores if self.code_style == "flores" else lang.code


SIB200 = TaskSpec(
    name="sib200",
    text_columns=("text",),
    label_column="category",
    labels=("science/technology", "travel", "politics", "sports", "health", "entertainment", "geography"),
    id_column="index_id",
    default_root="../shared/data/sib200/data/annotated",
    hub_name="Davlan/sib200",
)

# XNLI and PAWS-X: hub names; a local copy uses the layouts documented in the README
XNLI = TaskSpec(
    name="xnli",
    text_columns=("premise", "hypothesis"),
    label_column="label",
    labels=("entailment", "neutral", "contradiction"),
    code_style="iso1",
    hub_name="xnli",
)

PAWSX = TaskSpec(
    name="paws-x",
    text_columns=("sentence1", "sentence2"),
    label_column="label",
    labels=("0", "1"),
    id_column="id",
    code_style="iso1",
    hub_name="paws-x",
    # the layout of Google's released x-final/ folder
    split_files={"train": "train", "dev": "dev_2k", "test": "test_2k"},
)

TASKS: dict[str, TaskSpec] = {t.name: t for t in (SIB200, XNLI, PAWSX)}


def get_task(name: str) -> TaskSpec:
    if name not in TASKS:
        raise WeamError(f"unknown task '{name}' (choose from {', '.join([*TASKS, 'custom', 'tatoeba'])})")
    return TASKS[name]


def custom_task(
    *,
    train: str | None,
    dev: str | None,
    test: str | None,
    text_column: str,
    label_column: str,
    text_pair_column: str | None = None,
    labels: tuple[str, ...] | None = None,
    id_column: str | None = None,
) -> TaskSpec:
    """A task from explicit files (TSV, CSV or JSONL); the data is in one language, English."""
    files = {s: f for s, f in (("train", train), ("dev", dev), ("test", test)) if f}
    if not files:
        raise WeamError("the custom task needs at least one of --train, --dev, --test")
    cols = (text_column,) if not text_pair_column else (text_column, text_pair_column)
    return TaskSpec(
        name="custom",
        text_columns=cols,
        label_column=label_column,
        labels=labels,
        id_column=id_column,
        files=files,
    )


def with_root(task: TaskSpec, root: str | os.PathLike | None) -> TaskSpec:
    """The task reading its files under ``root`` (``--data-dir``) instead of its default."""
    if root is None:
        return task
    if not Path(root).is_dir():
        raise WeamError("data folder not found (--data-dir)", root)
    return replace(task, default_root=str(root))


@dataclass
class TaskSplit:
    """One language's split: texts (and pairs), string labels and example ids, with its origin."""

    task: str
    lang: str  # the code the data set uses, e.g. deu_Latn
    split: str
    source: str  # the file (or hub name) it came from
    texts: list[str]
    pairs: list[str] | None
    labels: list[str]
    ids: list[Any]

    def __len__(self) -> int:
        return len(self.texts)


def split_path(task: TaskSpec, lang_code: str, split: str) -> Path | None:
    """The local file of a split, or None when the task has no local root."""
    if task.files:
        return Path(task.files[split]) if split in task.files else None
    if task.default_root is None:
        return None
    return Path(
        task.path_pattern.format(root=task.default_root, lang=lang_code, split=task.split_files[split])
    )


def resolve_language(task: TaskSpec, code: str) -> tuple[str, Language | None]:
    """``code`` as the task's file code, with weam's Language where weam knows it.

    A data set code weam's table lacks (SIB-200 has 205 languages) is accepted as is when the task
    has files for it."""
    if task.files:
        return "eng", language("en")
    try:
        lang = language(code)
        return task.file_code(lang), lang
    except WeamError:
        root = task.default_root
        if root and (Path(root) / code).is_dir():
            return code, known_language(code)
        raise


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
    if task.files:
        return ["eng"] if split in task.files else []
    if task.default_root is None or not Path(task.default_root).is_dir():
        raise WeamError(f"no local data for task '{task.name}' (pass --data-dir)", task.default_root)
    root = Path(task.default_root)
    found = [
        p.name
        for p in sorted(root.iterdir())
        if p.is_dir()
        and split_path(task, p.name, split) is not None
        and split_path(task, p.name, split).is_file()
    ]
    if not found:
        raise WeamError(f"no language folder under it has a {split} split", root)
    return found


def load_split(task: TaskSpec, lang_code: str, split: str) -> TaskSplit:
    """Load one split from the local file, or from the hub when no local file exists."""
    if split not in SPLITS:
        raise WeamError(f"unknown split '{split}' (choose from {', '.join(SPLITS)})")
    path = split_path(task, lang_code, split)
    if path is not None and path.is_file():
        return _load_file(task, path, lang_code, split)
    if task.files:
        where = task.files.get(split)
        raise WeamError(f"no {split} file given (--{split})" if where is None else "file not found", where)
    if path is not None and Path(task.default_root).is_dir():
        raise WeamError(f"task '{task.name}' has no {split} data for language '{lang_code}'", path)
    return _load_hub(task, lang_code, split, local=path)


def _file_format(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".json"):
        return "json"
    return "csv"


def _load_file(task: TaskSpec, path: Path, lang_code: str, split: str) -> TaskSplit:
    import datasets

    datasets.disable_progress_bars()
    fmt = _file_format(path)
    header_lines = 1 if fmt == "csv" else 0
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
    if nonempty <= header_lines:
        raise WeamError(f"the {split} split is empty", path)
    kwargs: dict[str, Any] = {}
    if fmt == "csv":
        tsv = path.suffix.lower() in (".tsv", ".txt")
        # TSV text contains stray '"': with quoting on, pandas silently merges rows (QUOTE_NONE = 3).
        # na_filter off keeps texts like "NA" or "null" as text.
        kwargs = {"delimiter": "\t" if tsv else ",", "na_filter": False}
        if tsv:
            kwargs["quoting"] = csv.QUOTE_NONE
    try:
        ds = datasets.load_dataset(fmt, data_files=str(path), split="train", **kwargs)
    except Exception as exc:  # pandas / arrow parse errors carry long messages; keep the first line
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise WeamError(
            f"cannot read it as {'JSON lines' if fmt == 'json' else 'a table'} ({first})", path
        ) from None
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
    labels = [str(v) for v in ds[task.label_column]]
    texts = [str(v) for v in ds[task.text_columns[0]]]
    pairs = [str(v) for v in ds[task.text_columns[1]]] if task.is_pair else None
    ids = list(ds[task.id_column]) if task.id_column else list(range(len(ds)))
    seen_ids: dict[str, int] = {}
    for i, example_id in enumerate(ids):
        # paired statistics match examples by id: a repeated id would silently merge two examples
        first = seen_ids.setdefault(str(example_id), i)
        if first != i:
            raise WeamError(
                f"example id '{example_id}' in column '{task.id_column}' repeats line "
                f"{first + 1 + header_lines}",
                path,
                i + 1 + header_lines,
            )
    for i, text in enumerate(texts):
        if not text.strip():
            raise WeamError(f"empty text in column '{task.text_columns[0]}'", path, i + 1 + header_lines)
    if task.labels is not None:
        allowed = set(task.labels)
        for i, label in enumerate(labels):
            if label not in allowed:
                raise WeamError(
                    f"label '{label}' is not in the task's label set ({', '.join(task.labels)})",
                    path,
                    i + 1 + header_lines,
                )
    return TaskSplit(task.name, lang_code, split, str(path), texts, pairs, labels, ids)


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
    feature = ds.features.get(task.label_column)
    names = getattr(feature, "names", None)
    labels = [names[v] if names else str(v) for v in ds[task.label_column]]
    keep = [
        i for i, v in enumerate(ds[task.label_column]) if not (names and v < 0)
    ]  # XNLI marks none with -1
    texts = [str(ds[task.text_columns[0]][i]) for i in keep]
    pairs = [str(ds[task.text_columns[1]][i]) for i in keep] if task.is_pair else None
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
