"""Model metadata: how a model is named, grouped and compared in the tables.

lm-eval only records a model's ``model_name`` (usually its ``pretrained=`` path), which says
nothing about what kind of model it is or what it was trained from. A small YAML file supplies
that; the schema is in ``leaderboard/README.md``. Models without an entry still get a row, with
their ``model_name`` as display name and a family inferred from the task (and a note saying so).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml

from toolrm_leaderboard.errors import LeaderboardInputError
from toolrm_leaderboard.task_names import VARIANTS


FAMILIES: dict[str, str] = {
    "general": "General LLMs",
    "genrm": "Generative RMs",
    "discrm": "Discriminative RMs",
}
"""Family key -> group heading, in the paper's row order."""

_FIELDS = {"display_name", "family", "ours", "base_model", "base_variant", "aliases"}


@dataclass(frozen=True)
class ModelInfo:
    key: str
    """The lm-eval ``model_name`` (or another name listed in ``aliases``)."""
    display_name: str
    family: str
    """One of :data:`FAMILIES`."""
    ours: bool = False
    """Rendered in bold, like the paper's ToolRM rows."""
    base_model: str | None = None
    """Key of the entry this model was trained from; its W-Avg gain over that model is shown."""
    base_variant: str | None = None
    """Which of the base model's rows to compare with when it has several (think / no_think / disc)."""
    aliases: tuple[str, ...] = ()


@dataclass
class ModelCatalog:
    entries: dict[str, ModelInfo] = field(default_factory=dict)
    source: str = "(no metadata file)"

    def lookup(self, model_name: str) -> ModelInfo | None:
        """Find the entry whose key or one of whose aliases is ``model_name``."""
        if model_name in self.entries:
            return self.entries[model_name]
        for info in self.entries.values():
            if model_name in info.aliases:
                return info
        return None

    def key_for(self, model_name: str) -> str:
        """The metadata key of a model (so that aliases of one model share rows), else its own name."""
        info = self.lookup(model_name)
        return model_name if info is None else info.key

    def resolve(self, model_name: str, variant: str) -> tuple[ModelInfo, str | None]:
        """The entry for a results row, or an inferred one plus a note that says it was inferred."""
        info = self.lookup(model_name)
        if info is not None:
            return info, None
        family = "discrm" if variant == "disc" else "general"
        note = (
            f"model {model_name!r} has no entry in {self.source}; shown under its lm-eval name, "
            f"family {family!r} inferred from the {variant} task"
        )
        return ModelInfo(key=model_name, display_name=model_name, family=family), note


def load_model_catalog(path: str | Path | None) -> ModelCatalog:
    """Read and validate the metadata YAML (``None``: an empty catalog)."""
    if path is None:
        return ModelCatalog()
    path = Path(path)
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise LeaderboardInputError(f"cannot read model metadata {path}: {error.strerror}") from error
    except UnicodeDecodeError as error:
        raise LeaderboardInputError(
            f"{path}: not UTF-8 text (byte 0x{error.object[error.start]:02x} at offset {error.start})"
        ) from error
    except yaml.YAMLError as error:
        raise LeaderboardInputError(f"{path}: not valid YAML: {error}") from error
    if not isinstance(document, dict) or not isinstance(document.get("models"), dict):
        raise LeaderboardInputError(
            f"{path}: expected a mapping with a 'models:' mapping (model name -> fields); "
            f"found {type(document).__name__}"
        )
    catalog = ModelCatalog(source=str(path))
    for key, fields in document["models"].items():
        catalog.entries[str(key)] = _parse_entry(path, str(key), fields)
    _check_references(path, catalog)
    return catalog


def _parse_entry(path: Path, key: str, fields: object) -> ModelInfo:
    where = f"{path}: models.{key}"
    if not isinstance(fields, dict):
        raise LeaderboardInputError(f"{where}: expected a mapping of fields; found {fields!r}")
    unknown = sorted(set(fields) - _FIELDS)
    if unknown:
        raise LeaderboardInputError(
            f"{where}: unknown field(s) {', '.join(unknown)}; expected some of {', '.join(sorted(_FIELDS))}"
        )
    family = fields.get("family")
    if family not in FAMILIES:
        raise LeaderboardInputError(
            f"{where}.family: expected one of {', '.join(FAMILIES)}; found {family!r}"
        )
    ours = fields.get("ours", False)
    if not isinstance(ours, bool):
        raise LeaderboardInputError(f"{where}.ours: expected true or false; found {ours!r}")
    base_variant = fields.get("base_variant")
    if base_variant is not None and base_variant not in VARIANTS:
        raise LeaderboardInputError(
            f"{where}.base_variant: expected one of {', '.join(VARIANTS)}; found {base_variant!r}"
        )
    aliases = fields.get("aliases", [])
    if not isinstance(aliases, list) or not all(isinstance(a, str) for a in aliases):
        raise LeaderboardInputError(f"{where}.aliases: expected a list of names; found {aliases!r}")
    base_model = fields.get("base_model")
    return ModelInfo(
        key=key,
        display_name=str(fields.get("display_name", key)),
        family=family,
        ours=ours,
        base_model=None if base_model is None else str(base_model),
        base_variant=base_variant,
        aliases=tuple(aliases),
    )


def _check_references(path: Path, catalog: ModelCatalog) -> None:
    seen: dict[str, str] = {}
    for info in catalog.entries.values():
        for name in (info.key, *info.aliases):
            if name in seen and seen[name] != info.key:
                raise LeaderboardInputError(
                    f"{path}: name {name!r} belongs to both models.{seen[name]} and models.{info.key}"
                )
            seen[name] = info.key
        if info.base_model is None:
            continue
        if info.base_model == info.key:
            raise LeaderboardInputError(f"{path}: models.{info.key}.base_model names the model itself")
        if info.base_model not in catalog.entries:
            raise LeaderboardInputError(
                f"{path}: models.{info.key}.base_model: {info.base_model!r} is not a key of 'models:' "
                f"(keys: {', '.join(catalog.entries)})"
            )
