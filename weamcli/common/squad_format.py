"""Extractive QA data in the SQuAD v1.1 JSON format (XQuAD, MLQA, TyDiQA-GoldP, SQuAD itself).

``{"data": [{"paragraphs": [{"context": ..., "qas": [{"id", "question", "answers": [{"text",
"answer_start"}]}]}]}]}``. Each question is one example; its answers are character spans of the
context, checked on reading (a span that does not hold its text is an error naming the file and the
line of the question's id).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from weamcli.common.errors import WeamError
from weamcli.common.files import missing_file


@dataclass
class QAExample:
    id: str
    question: str
    context: str
    answers: list[str]  # gold answer texts (several annotators in dev/test sets)
    starts: list[int]  # their character offsets in the context


def _line_of(text: str, needle: str) -> int | None:
    at = text.find(needle)
    return text.count("\n", 0, at) + 1 if at >= 0 else None


def read_squad(path: str | Path, *, need_answers: bool = True) -> list[QAExample]:
    """Every question of a SQuAD-v1.1-format file, in file order."""
    path = Path(path)
    if not path.is_file():
        raise missing_file(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise WeamError(f"not UTF-8 text ({exc.reason})", path) from None
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        raise WeamError(f"not valid JSON ({exc.msg})", path, exc.lineno) from None
    if not isinstance(obj, dict) or not isinstance(obj.get("data"), list):
        raise WeamError('not a SQuAD-format file (no top-level "data" list)', path, 1)

    def where(qid: str) -> tuple[Path, int | None]:
        return path, _line_of(text, json.dumps(qid, ensure_ascii=False)) or _line_of(text, qid)

    out: list[QAExample] = []
    seen: set[str] = set()
    for article in obj["data"]:
        for para in article.get("paragraphs", []) if isinstance(article, dict) else []:
            context = para.get("context")
            if not isinstance(context, str) or not context.strip():
                raise WeamError("a paragraph without a context", path)
            for qa in para.get("qas", []):
                qid = str(qa.get("id", ""))
                question = qa.get("question")
                if not qid or not isinstance(question, str) or not question.strip():
                    raise WeamError("a question without an id or text", *where(qid or str(question)))
                if qid in seen:
                    raise WeamError(f"question id '{qid}' occurs twice", *where(qid))
                seen.add(qid)
                answers, starts = [], []
                for ans in qa.get("answers", []):
                    answer, start = ans.get("text"), ans.get("answer_start")
                    if not isinstance(answer, str) or not isinstance(start, int) or isinstance(start, bool):
                        raise WeamError(
                            f"question '{qid}': an answer needs text and answer_start", *where(qid)
                        )
                    if context[start : start + len(answer)] != answer:
                        raise WeamError(
                            f"question '{qid}': answer {answer!r} is not at character {start} of its context",
                            *where(qid),
                        )
                    answers.append(answer)
                    starts.append(start)
                if need_answers and not answers:
                    raise WeamError(f"question '{qid}' has no answer", *where(qid))
                out.append(QAExample(qid, question.strip(), context, answers, starts))
    if not out:
        raise WeamError("no questions in this SQuAD-format file", path)
    return out
