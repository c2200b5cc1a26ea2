"""Multiple-choice splits (COPA, XCOPA and your own files of the same shape): a premise, an optional
question, two or more choices and the index of the right one, read from JSON lines."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from weamcli.common.errors import WeamError
from weamcli.common.files import utf8_lines

# COPA's two questions, asked in English in every language (XCOPA keeps the English field values)
COPA_QUESTIONS = {"cause": "What was the cause?", "effect": "What happened as a result?"}
_CHOICE_KEY = re.compile(r"^choice(\d+)$")


@dataclass(frozen=True)
class ChoiceExample:
    id: str
    premise: str
    question: str  # COPA's "cause"/"effect", or your own question text; "" when there is none
    choices: tuple[str, ...]
    label: int  # the index of the right choice (0-based)

    @property
    def context(self) -> str:
        """The first segment every choice is read with: the premise and its question."""
        asked = COPA_QUESTIONS.get(self.question, self.question)
        return f"{self.premise} {asked}".strip()


@dataclass
class ChoiceSplit:
    """One language's multiple-choice split."""

    task: str
    lang: str
    split: str
    source: str
    examples: list[ChoiceExample]

    def __len__(self) -> int:
        return len(self.examples)

    @property
    def ids(self) -> list[str]:
        return [e.id for e in self.examples]

    @property
    def labels(self) -> list[int]:
        return [e.label for e in self.examples]

    @property
    def num_choices(self) -> int:
        return len(self.examples[0].choices) if self.examples else 0


def _choices(obj: dict, path: Path, line: int) -> tuple[str, ...]:
    if "choices" in obj:
        choices = obj["choices"]
    else:  # COPA's choice1, choice2 (, choice3 ...)
        numbered = sorted((int(m.group(1)), k) for k in obj if (m := _CHOICE_KEY.match(k)))
        if [n for n, _ in numbered] != list(range(1, len(numbered) + 1)):
            raise WeamError(
                "needs 'choices' (a list) or 'choice1', 'choice2', ... numbered from 1", path, line
            )
        choices = [obj[k] for _, k in numbered]
    if (
        not isinstance(choices, list)
        or len(choices) < 2
        or not all(isinstance(c, str) and c for c in choices)
    ):
        raise WeamError("needs at least two choices, each a non-empty string", path, line)
    return tuple(choices)


def read_choices(path: str | Path) -> list[ChoiceExample]:
    """Every example of a JSON-lines file: ``premise``, ``choice1`` … or ``choices``, ``label`` (the
    right choice's 0-based index), optional ``question`` and ``idx``/``id``. A bad line is a
    one-line error naming the file and line; every example must have as many choices as the first."""
    path = Path(path)
    examples: list[ChoiceExample] = []
    seen: dict[str, int] = {}
    for line, text in utf8_lines(path):
        if not text.strip():
            continue
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as exc:
            raise WeamError(f"not JSON ({exc.msg})", path, line) from None
        if not isinstance(obj, dict):
            raise WeamError("a line must be a JSON object", path, line)
        premise = obj.get("premise")
        if not isinstance(premise, str) or not premise.strip():
            raise WeamError("needs a non-empty 'premise'", path, line)
        choices = _choices(obj, path, line)
        if examples and len(choices) != len(examples[0].choices):
            raise WeamError(
                f"has {len(choices)} choices, the file's first example {len(examples[0].choices)}",
                path,
                line,
            )
        label = obj.get("label")
        if isinstance(label, bool) or not isinstance(label, int) or not 0 <= label < len(choices):
            raise WeamError(f"'label' must be the right choice's index, 0 to {len(choices) - 1}", path, line)
        question = obj.get("question", "")
        if not isinstance(question, str):
            raise WeamError("'question' must be a string", path, line)
        key = str(obj.get("idx", obj.get("id", line)))
        if key in seen:
            raise WeamError(f"example id '{key}' also on line {seen[key]}", path, line)
        seen[key] = line
        examples.append(ChoiceExample(key, premise.strip(), question.strip(), choices, label))
    if not examples:
        raise WeamError("holds no examples", path)
    return examples


def choice_split(task: Any, lang_code: str, split: str, path: Path) -> ChoiceSplit:
    """The multiple-choice family's reader (common.families): one language's JSON-lines file."""
    return ChoiceSplit(task.name, lang_code, split, str(path), read_choices(path))
