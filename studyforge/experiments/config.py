"""Experiment configs: pydantic models whose presets (`quick`, `default`, `full`) are data, not code paths.

A study declares its knobs once, with defaults that make up the `default` preset, and lists only the
overrides for the other presets::

    class Config(ExperimentConfig):
        gamma: float = Field(0.99, description="discount factor")
        sweeps: int = Field(1000, description="maximum number of sweeps")
        presets: ClassVar = {"quick": {"sweeps": 50}, "full": {"sweeps": 100_000}}

`Config.from_preset("quick", overrides={"gamma": "0.9"})` validates everything, so a typo in
`--set` or a value of the wrong type is reported before anything runs.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated, Any, ClassVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from studyforge.errors import ForgeError

PRESETS = ("quick", "default", "full")


class ExperimentConfig(BaseModel):
    """Base class of every study's config: unknown keys are rejected, values are validated."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    presets: ClassVar[dict[str, dict[str, Any]]] = {}

    @classmethod
    def from_preset(cls, preset: str = "default", overrides: dict[str, Any] | None = None) -> ExperimentConfig:
        if preset not in PRESETS:
            raise ForgeError(f"unknown preset {preset!r}", hint=f"use one of {', '.join(PRESETS)}")
        unknown = set(cls.presets) - set(PRESETS)
        if unknown:  # a programming error in a study, caught by the smoke tests
            raise ValueError(f"{cls.__name__}.presets has unknown preset names {sorted(unknown)}")
        import copy

        given = copy.deepcopy(cls.presets.get(preset, {}))
        _merge(given, _nest(overrides or {}))  # `--set dqn.lr=…` keeps the preset's other dqn settings
        # a nested settings model given in part starts from the study's own default for it, not from the
        # model class's defaults: `--set ppo.lr=…` must not undo `ppo: PPOConfig = Field(default_factory=…)`
        values = {k: _nested_default(cls, k, v) for k, v in given.items()}
        try:
            return cls.model_validate(values)
        except ValidationError as exc:
            raise ForgeError(_describe(exc, cls), hint="check the --set key=value options") from None

    @classmethod
    def field_names(cls) -> list[str]:
        return list(cls.model_fields)


def parse_overrides(pairs: list[str]) -> dict[str, str]:
    """`["gamma=0.9", "env.size=8"]` -> `{"gamma": "0.9", "env.size": "8"}` (pydantic converts types)."""
    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ForgeError(f"--set {pair!r} is not key=value", hint="write e.g. --set gamma=0.9")
        out[key.strip()] = value.strip()
    return out


def _nest(flat: dict[str, Any]) -> dict[str, Any]:
    """`{"a.b": 1, "c": 2}` -> `{"a": {"b": 1}, "c": 2}` for nested config models."""
    out: dict[str, Any] = {}
    for key, value in flat.items():
        node = out
        *parents, leaf = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        if isinstance(value, str) and value.startswith(("[", "{")):
            import json

            try:
                value = json.loads(value)
            except json.JSONDecodeError:
                pass
        node[leaf] = value
    return out


def _nested_default(cls: type[BaseModel], key: str, value: Any) -> Any:
    """`value` (a partial dict for a nested model field) merged over that field's default, dumped to a dict."""
    field = cls.model_fields.get(key)
    if not isinstance(value, dict) or field is None:
        return value
    default = field.get_default(call_default_factory=True)
    if not isinstance(default, BaseModel):
        return value
    merged = default.model_dump(exclude_unset=False)
    _merge(merged, value)
    return merged


def _merge(into: dict[str, Any], new: dict[str, Any]) -> None:
    """Merge `new` into `into` key by key, recursing into nested dicts."""
    for key, value in new.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        else:
            into[key] = value


def _describe(exc: ValidationError, cls: type[BaseModel]) -> str:
    parts = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"]) or "(config)"
        if err["type"] == "extra_forbidden":
            parts.append(f"{cls.__name__} has no setting {loc!r} (known: {', '.join(cls.model_fields)})")
        else:
            parts.append(f"{loc}={err.get('input')!r}: {err['msg']}")
    return "invalid config: " + "; ".join(parts)


# ---- Fields and checks that many studies share: declare them once, give each study its own default. ----
#
#     class Config(ExperimentConfig):
#         seeds: Seeds = 3
#         workers: Workers = 2
#         algorithms: Annotated[list[str], names_in(ALGORITHMS, "algorithms")] = ["ppo"]

Seeds = Annotated[int, Field(ge=1, description="independent runs (seeds) per configuration")]
Workers = Annotated[int, Field(ge=1, description="training runs in parallel (processes)")]
GridPoints = Annotated[int, Field(ge=2, description="points of the common step grid of the learning curves")]
Smoothing = Annotated[int, Field(ge=1, description="trailing window (episodes) of the training-return curves")]


def names_in(known: Iterable[str], what: str, *, allow_empty: bool = False) -> AfterValidator:
    """A list field's check that every name is one of `known` (`--set algorithms='[ppo,dqnn]'` ->
    "unknown algorithms ['dqnn']; known: reinforce, a2c, ppo, …"); empty lists are refused unless allowed.

    `known` may be any iterable (a tuple, a dict's keys); it is read when a value is checked, so a
    registry filled after import is seen.
    """

    def check(value: list[str]) -> list[str]:
        names = list(known)
        unknown = [v for v in value if v not in names]
        if unknown or (not value and not allow_empty):
            raise ValueError(f"unknown {what} {unknown}; known: {', '.join(names)}")
        return value

    return AfterValidator(check)
