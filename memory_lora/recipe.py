"""A recipe: every setting one run needs (RunConfig), read from a YAML or JSON file and the command line.

A recipe file has optional sections `model`, `lora`, `train`, `synth`, `answer`, `gate` (each a mapping of field
names to values) and a top-level `seed`, e.g. `{"seed": 1, "train": {"epochs": 4}, "lora": {"r": 8}}`. The
defaults are the best measured recipe; configs/ holds the others that were measured, one file each.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from data_synth.config import SynthConfig
from memory_lora.config import AnswerConfig, GateConfig, LoraConfig, ModelConfig, TrainConfig

SECTIONS = {"model": ModelConfig, "lora": LoraConfig, "train": TrainConfig, "synth": SynthConfig,
            "answer": AnswerConfig, "gate": GateConfig}


@dataclass
class RunConfig:
    """Everything one pipeline run needs."""

    model: ModelConfig = field(default_factory=ModelConfig)
    """The frozen base model."""
    lora: LoraConfig = field(default_factory=LoraConfig)
    """The adapter's shape."""
    train: TrainConfig = field(default_factory=TrainConfig)
    """Optimisation."""
    synth: SynthConfig = field(default_factory=SynthConfig)
    """Memory text -> training examples."""
    answer: AnswerConfig = field(default_factory=AnswerConfig)
    """Decoding, reranking and the gate at answer time."""
    gate: GateConfig = field(default_factory=GateConfig)
    """Gate calibration after training."""
    seed: int = 0
    """The one seed of a run: synthesis draws, replay mix, LoRA init and batch order."""

    def __post_init__(self):
        for name, klass in SECTIONS.items():  # sections given as mappings (jsonargparse, from_dict) become dataclasses
            value = getattr(self, name)
            if isinstance(value, dict):
                setattr(self, name, klass(**value))
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {self.seed!r}")

    def to_dict(self) -> dict:
        return asdict(self)

    def validate(self) -> None:
        """Re-run every section's checks (after fields were changed in place)."""
        for name in SECTIONS:
            getattr(self, name).__post_init__()
        self.__post_init__()

    @classmethod
    def from_dict(cls, data: dict, source: str = "<config>") -> RunConfig:
        """Build from a nested mapping; unknown sections or fields are errors naming the source."""
        kwargs = {}
        for name, values in (data or {}).items():
            if name == "seed":
                kwargs["seed"] = values
                continue
            if name not in SECTIONS:
                raise ValueError(f"{source}: unknown config section {name!r} (expected seed or one of "
                                 f"{sorted(SECTIONS)})")
            if values is not None and not isinstance(values, dict):
                raise ValueError(f"{source}: section {name!r} must be a mapping of fields")
            klass = SECTIONS[name]
            unknown = set(values or {}) - {f.name for f in fields(klass)}
            if unknown:
                raise ValueError(f"{source}: unknown field(s) {sorted(unknown)} in section {name!r}")
            try:
                kwargs[name] = klass(**(values or {}))
            except (TypeError, ValueError) as e:
                raise ValueError(f"{source}: {e}") from None
        try:
            return cls(**kwargs)
        except ValueError as e:
            raise ValueError(f"{source}: {e}") from None

    @classmethod
    def load(cls, path: str | os.PathLike | None) -> RunConfig:
        """Read a JSON or YAML recipe file; None gives the defaults."""
        if path is None:
            return cls()
        return cls.from_dict(read_mapping(path), source=str(path))


def read_mapping(path: str | os.PathLike) -> dict:
    """A YAML (.yaml/.yml) or JSON file holding one mapping; errors name the file (and line where known)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise ValueError(f"{path}: cannot read config ({e.strerror})") from None
    if path.suffix in (".yaml", ".yml"):
        import yaml

        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as e:
            mark = getattr(e, "problem_mark", None)
            where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
            raise ValueError(f"{where}: invalid YAML ({getattr(e, 'problem', None) or e})") from None
    else:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise ValueError(f"{path}:{e.lineno}: invalid JSON ({e.msg})") from None
    if data is not None and not isinstance(data, dict):
        raise ValueError(f"{path}: config must be a mapping of sections")
    return data or {}


def training_identity(config: dict) -> dict:
    """What decides an adapter's weights, from a recipe dict as a manifest stores it: base model, LoRA, training
    settings and the seed (the data itself is compared by the dataset's sha256). Manifests written before the one
    seed kept it as train.seed; both read the same."""
    train = dict(config.get("train") or {})
    seed = config.get("seed", train.get("seed", 0))
    train.pop("seed", None)
    return {"model": config.get("model"), "lora": config.get("lora"), "train": train, "seed": seed}


# -- the command line: flags generated from the section dataclasses ------------------------------------------------

ALL_SECTIONS = (*SECTIONS, "seed")
# The two flags SPEC section 4 names outside the generated `--section.field` form.
ALIASES = {"--base-model": "model.base_model", "--backend": "synth.backend"}
# Every key add_recipe_arguments puts in a parsed namespace: a command's own fields are the others.
RECIPE_KEYS = frozenset({*ALL_SECTIONS, "config", *(flag[2:].replace("-", "_") for flag in ALIASES)})


def _recipe_file_action(sections: tuple[str, ...]):
    """An argparse action for `--config FILE`: the recipe's sections this command uses become its values, in
    command-line order (flags after --config override it); sections it does not use are checked and ignored."""
    import argparse

    class RecipeFile(argparse.Action):
        def __call__(self, parser, namespace, value, option_string=None):
            data = read_mapping(value)
            RunConfig.from_dict(data, source=str(value))  # every section and field checked, used here or not
            for section, values in data.items():
                if section == "seed" and "seed" in sections:
                    namespace["seed"] = values
                elif section in sections:
                    for key, item in (values or {}).items():
                        namespace[f"{section}.{key}"] = item
            namespace[self.dest] = value

    return RecipeFile


def _alias_action(target: str):
    import argparse

    class Alias(argparse.Action):
        def __call__(self, parser, namespace, value, option_string=None):
            namespace[target] = value

    return Alias


def add_recipe_arguments(parser, sections: tuple[str, ...] = ALL_SECTIONS) -> None:
    """Add `--config FILE`, one `--section.field` flag per field of each section, and `--seed` to a jsonargparse
    parser; help texts are the fields' docstrings."""
    parser.add_argument("--config", action=_recipe_file_action(sections), metavar="FILE",
                        help="recipe file (YAML or JSON with sections " + ", ".join(s for s in sections if s != "seed")
                        + (" and a top-level seed" if "seed" in sections else "") + "); later flags override it")
    for name in sections:
        if name == "seed":
            parser.add_argument("--seed", type=int, default=None, help="the one seed of the run (default 0)")
        else:
            parser.add_class_arguments(SECTIONS[name], name, instantiate=False)
    for flag, target in ALIASES.items():
        if target.split(".")[0] in sections:
            parser.add_argument(flag, action=_alias_action(target), metavar="VALUE", help=f"same as --{target}")


def recipe_from(namespace, sections: tuple[str, ...] = ALL_SECTIONS) -> RunConfig:
    """The RunConfig a parsed command line describes (sections it does not take keep their defaults)."""
    data = {name: namespace[name].as_dict() for name in sections if name != "seed"}
    if "seed" in sections and namespace["seed"] is not None:
        data["seed"] = namespace["seed"]
    return RunConfig.from_dict(data, source="command line")
