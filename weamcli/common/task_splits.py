"""Reading a task's splits: classification rows (local TSV/CSV/JSON lines or the hub), tagged
sentences, questions and multiple-choice examples, checked line by line, and sub-sampling them."""

from __future__ import annotations

import contextlib
import csv
import functools
import glob
import importlib
import os
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol

from weamcli.common.errors import WeamError
from weamcli.common.families import family
from weamcli.common.files import utf8_lines
from weamcli.common.tasks import SPLITS, TaskSpec, missing_split, split_path


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


def load_split(task: TaskSpec, lang_code: str, split: str) -> TaskSplit:
    """Load one classification split from the local file, or from the hub when no local file exists."""
    if split not in SPLITS:
        raise WeamError(f"unknown split '{split}' (choose from {', '.join(SPLITS)})")
    path = split_path(task, lang_code, split)
    if path is not None and path.is_file():
        return _load_file(task, path, lang_code, split)
    if path is not None or task.hub_name is None:
        raise missing_split(task, lang_code, split, path)
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
    # checked here: the table reader's own error names neither the line nor the byte
    nonempty = sum(bool(text.strip()) for _, text in utf8_lines(path))
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


class AnySplit(Protocol):
    """What every family's split has (a family's reader returns its own class with these)."""

    task: str
    lang: str
    split: str
    source: str

    @property
    def ids(self) -> Sequence[Any]: ...

    def __len__(self) -> int: ...


def load_task_split(task: TaskSpec, lang_code: str, split: str) -> AnySplit:
    """One split of any family's task, read by the family's reader (common.families)."""
    reader = family(task.kind).reader
    if reader is None:  # classification rows: a local table, or the hub
        return load_split(task, lang_code, split)
    path = split_path(task, lang_code, split)
    if path is None or not path.is_file():
        raise missing_split(task, lang_code, split, path)
    module, function = reader
    return getattr(importlib.import_module(f"weamcli.common.{module}"), function)(
        task, lang_code, split, path
    )


def tagged_split(task: TaskSpec, lang_code: str, split: str, path: Path) -> TaggedSplit:
    """The tagging family's reader: CoNLL-U or two-column CoNLL, tags checked against the task's set."""
    from weamcli.common.conllu import read_tagged

    part = TaggedSplit(task.name, lang_code, split, str(path), read_tagged(path))
    if task.labels is not None:
        part.check_tags(task.labels)
    return part


def qa_split(task: TaskSpec, lang_code: str, split: str, path: Path) -> QASplit:
    """The extractive-QA family's reader: SQuAD-v1.1 JSON."""
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
    if hasattr(part, "examples"):  # questions, multiple-choice examples: any family's unit list
        return replace(part, examples=[part.examples[i] for i in keep])
    return replace(
        part,
        texts=[part.texts[i] for i in keep],
        pairs=[part.pairs[i] for i in keep] if part.pairs else None,
        labels=[part.labels[i] for i in keep],
        ids=[part.ids[i] for i in keep],
    )
