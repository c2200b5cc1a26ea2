"""The experiment TOML's own sections: ``[experiment]`` (the run) and ``[model]`` (the size axis).
Every other section is a stage's settings class (see ``experiment.config``)."""

from __future__ import annotations

from dataclasses import dataclass

from weamcli.common.settings import Settings, no_duplicates, option
from weamcli.pretrain.settings import OBJECTIVES

# baseline: the base model, no continual pre-training; then the registered objectives
METHODS = ("baseline", *OBJECTIVES)
EXECUTORS = ("local", "slurm")


@dataclass(kw_only=True)
class ExperimentSettings(Settings):
    section = "experiment"

    name: str | None = option(None, help="The study's name (default: the config file's stem).")
    out: str | None = option(
        None, help="Output folder (default runs/<name>), relative to the working directory."
    )
    seeds: list[int] = option(
        [13], help="Fine-tuning seeds; every model is fine-tuned once per seed.", check=no_duplicates
    )
    task: str | None = option(
        None, help="The task fine-tuned and evaluated (default sib200; [task] holds its options)."
    )
    tasks: list[str] | None = option(
        None,
        help='Several tasks, e.g. ["sib200", "udpos", "xquad"]: every model and seed is fine-tuned '
        "and evaluated on each; [task], [finetune] and [evaluate] apply to all, and subsections "
        "[task.<name>], [finetune.<name>], [evaluate.<name>] set one task's own options.",
        check=no_duplicates,
    )
    threads: int | None = option(
        None,
        help="CPU threads for torch in each step (default: the cores shared equally among the jobs; "
        "one job alone: torch's choice).",
        minimum=1,
    )
    jobs: int | None = option(
        None,
        help="Steps run at once, each in its own process (default: one per GPU, each on its own GPU; "
        "on a CPU one per core, at most 4, as a small encoder gains less from a second thread than "
        "from a second step).",
        minimum=1,
    )
    share_gpus: bool = option(
        False,
        help="With more jobs than GPUs, let jobs share the GPUs (round robin) instead of stopping with "
        "an error (each job has a GPU of its own by default).",
    )
    executor: str = option(
        "local",
        choices=EXECUTORS,
        help="Where the steps run: local (this machine, --jobs at once) or slurm (each ready step a "
        "Slurm job through submitit, resources from [slurm]; pip install 'weam[slurm]').",
    )

    def check_together(self) -> None:
        if self.task is not None and self.tasks is not None:
            self.fail("tasks", 'and task are alternatives: give one (task = "x" or tasks = ["x", "y"])')
        if self.tasks is not None and not self.tasks:
            self.fail("tasks", "is empty")

    @property
    def task_list(self) -> list[str]:
        return list(self.tasks) if self.tasks is not None else [self.task or "sib200"]


@dataclass(kw_only=True)
class ModelSettings(Settings):
    section = "model"

    base: str = option("e5-small", help="The base model: preset, save_pretrained folder or hub name.")
    layers: list[int] = option(
        [0],
        help="Model-size axis: keep the first N encoder layers, one model per value (0: all layers).",
        minimum=0,
        check=no_duplicates,
    )
    layers_methods: list[str] | None = option(
        None,
        help='Methods run at every depth of layers, e.g. ["baseline", "weam"], on the first language '
        "set only; the others only at the first depth (default: every method at every depth, on "
        "every language set).",
        check=no_duplicates,
    )
    layers_tasks: list[str] | None = option(
        None,
        help="Tasks the models of the other depths are evaluated on (default: every task of the grid); "
        "narrows a side axis without starving the main comparison.",
        check=no_duplicates,
    )


def _sbatch_options(values: list[str]) -> str | None:
    for value in values:
        if not value.startswith("--") or value == "--":
            return f'takes sbatch options as written on the command line ("--qos=high"), got {value!r}'
    return None


@dataclass(kw_only=True)
class SlurmSettings(Settings):
    """``[slurm]``: the resources of each step's Slurm job (``[experiment] executor = "slurm"``)."""

    section = "slurm"

    partition: str | None = option(None, help="Slurm partition (default: the cluster's default).")
    account: str | None = option(None, help="Slurm account to charge (default: your default account).")
    gpus_per_job: int = option(1, help="GPUs each job asks for (0: CPU jobs).", minimum=0)
    cpus_per_job: int = option(
        4, help="CPU cores each job asks for; a step's torch threads unless [experiment] threads.", minimum=1
    )
    mem_gb: float = option(32.0, help="Memory each job asks for, in GB.", above=0.0)
    time_min: int = option(
        240,
        help="Time limit of each job in minutes; a job that reaches it (or is preempted) is requeued "
        "and its step resumes from its last checkpoint.",
        minimum=1,
    )
    sbatch: list[str] = option(
        [],
        help='Further sbatch options, as written on the command line, e.g. ["--qos=high", '
        '"--constraint=a100"].',
        check=_sbatch_options,
    )
    setup: list[str] = option(
        [], help='Shell lines each job runs before its step, e.g. ["module load cuda/12.1"].'
    )

    def additional_parameters(self) -> dict[str, str | bool]:
        """``sbatch`` as submitit's ``slurm_additional_parameters`` (``--qos=high`` → qos: high)."""
        out: dict[str, str | bool] = {}
        for value in self.sbatch:
            name, eq, arg = value[2:].partition("=")
            out[name] = arg if eq else True
        return out
