"""Pre-training objectives, one module each, registered by name in ``OBJECTIVES``.

A module declares an ``Objective`` subclass with ``@objective(name, options=...)``: its options (a
dataclass, the one place their defaults are written), what its batches need, its loss and named
parts, and the words ``--objective``'s help and the model card use. `weam pretrain`'s settings, the
experiment grid and `weam compare` ask the registry, so adding an objective is adding a module here.
"""

from weamcli.pretrain.objectives.base import (
    OBJECTIVES,
    Objective,
    build_objective,
    loss_parts,
    make_collator,
    objective,
    objective_names,
)

__all__ = [
    "OBJECTIVES",
    "Objective",
    "build_objective",
    "loss_parts",
    "make_collator",
    "objective",
    "objective_names",
]
