"""The grid as steps: align per language, pretrain per method × language set × size, finetune and
evaluate per model × task × seed, then compare (one table per task and metric). Each step carries
its settings object and a fingerprint of them (chained through the steps it needs): a step is
complete only when its marker holds the same fingerprint, so changing a setting re-runs that step
and everything downstream of it."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from weamcli.common.settings import Settings
from weamcli.experiment.config import ExperimentConfig

STEP_MARKER = ".weam-step.json"
RUN_ONLY = ("resume", "overwrite", "report_to")  # how a step is run (and logged), not what it computes


@dataclass
class Step:
    """One unit of work with an output folder."""

    kind: str  # align | pretrain | finetune | evaluate | compare
    key: str
    out: Path
    params: dict[str, Any]
    needs: list[str] = field(default_factory=list)
    settings: Settings | None = None
    fingerprint: str = ""

    def marker(self) -> dict[str, Any] | None:
        try:
            return json.loads((self.out / STEP_MARKER).read_text(encoding="utf-8"))
        except (FileNotFoundError, json.JSONDecodeError):
            return None

    @property
    def state(self) -> str:
        """done (complete with these settings), changed (complete with other settings) or todo."""
        marker = self.marker()
        if marker is None:
            return "todo"
        return "done" if marker.get("fingerprint") == self.fingerprint else "changed"

    @property
    def done(self) -> bool:
        return self.state == "done"


def model_name(config: ExperimentConfig, params: dict[str, Any]) -> str:
    """The column label of a grid model: base, method and languages, depth."""
    name = config.base_model
    if params["method"] != "baseline":
        # parentheses, not brackets: rich would read "[de,es]" as markup and drop it
        name += f"+{params['method']}({','.join(params['langs'])})"
    if params.get("layers"):
        name += f"-L{params['layers']}"
    return name


def plan_experiment(config: ExperimentConfig) -> list[Step]:
    """Every step the grid needs, in an order where each step comes after what it needs."""
    steps: list[Step] = []
    out = config.out
    langs_needed = sorted({c for s in config.lang_sets for c in s})
    pretraining = [m for m in config.methods if m != "baseline"]
    if pretraining:
        for code in langs_needed:
            folder = out / "align" / f"en-{code}"
            steps.append(
                Step(
                    "align",
                    f"align/en-{code}",
                    folder,
                    {"lang": code},
                    settings=config.align_settings(code, folder),
                )
            )
    models: list[tuple[str, dict[str, Any]]] = []
    for layers in config.layers:
        size = f"L{layers}" if layers else "full"
        models.append((f"baseline-{size}", {"method": "baseline", "layers": layers, "langs": []}))
        for method in pretraining:
            for codes in config.lang_sets:
                key = f"pretrain/{method}-{'-'.join(codes)}-{size}"
                settings = config.pretrain_settings(
                    method, codes, layers, out / key, resume=False, overwrite=False
                )
                params = {"method": method, "layers": layers, "langs": codes}
                steps.append(
                    Step("pretrain", key, out / key, params, [f"align/en-{c}" for c in codes], settings)
                )
                models.append((key, params))
    for model_key, info in models:
        pretrained = model_key.startswith("pretrain/")
        name = model_key.replace("pretrain/", "")
        for task in config.tasks:
            # one task keeps the keys of earlier grids (their finished steps stay valid)
            part = f"{task}/" if len(config.tasks) > 1 else ""
            for seed in config.seeds:
                ft_key = f"finetune/{part}{name}/seed-{seed}"
                ft_out = out / ft_key
                model = str(out / model_key) if pretrained else config.base_model
                layers = None if pretrained else info["layers"]
                ft = config.finetune_settings(model, layers, ft_out.parent, seed, overwrite=False, task=task)
                params = {**info, "seed": seed, "model_key": model_key, "task": task}
                steps.append(Step("finetune", ft_key, ft_out, params, [model_key] if pretrained else [], ft))
                ev_key = f"evaluate/{part}{name}/seed-{seed}"
                params = {**info, "seed": seed, "finetuned": ft_key, "task": task}
                ev = config.evaluate_settings(
                    str(ft_out), model_name(config, params), out / ev_key / "results.jsonl", task
                )
                steps.append(Step("evaluate", ev_key, out / ev_key, params, [ft_key], ev))
    compare = config.compare_settings(out / "evaluate", out / "compare")
    evaluations = [s.key for s in steps if s.kind == "evaluate"]
    steps.append(Step("compare", "compare", out / "compare", {}, evaluations, compare))
    _fingerprint(steps)
    return steps


def _fingerprint(steps: list[Step]) -> None:
    by_key: dict[str, Step] = {}
    for step in steps:
        # options left at their default are not hashed: adding an option to weam re-runs nothing
        own = (
            {k: v for k, v in step.settings.non_defaults().items() if k not in RUN_ONLY}
            if step.settings
            else {}
        )
        upstream = [by_key[n].fingerprint for n in step.needs]
        data = json.dumps(
            {"kind": step.kind, "settings": own, "needs": upstream}, sort_keys=True, default=str
        )
        step.fingerprint = hashlib.sha256(data.encode()).hexdigest()[:16]
        by_key[step.key] = step
