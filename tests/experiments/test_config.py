"""Study configs (`experiments/config.py`): presets are data, `--set` overrides are validated before anything runs."""

from __future__ import annotations

from typing import ClassVar

import pytest
from fake_studies import FakeConfig
from pydantic import BaseModel, Field

from studyforge.errors import ForgeError
from studyforge.experiments.config import ExperimentConfig, parse_overrides


def test_presets_are_data_and_overrides_are_validated():
    assert FakeConfig.from_preset("quick").steps == 2
    assert FakeConfig.from_preset("default").steps == 5
    assert FakeConfig.from_preset("quick", {"gamma": "0.5"}).gamma == 0.5
    with pytest.raises(ForgeError, match="no setting 'nosuchkey'"):
        FakeConfig.from_preset("default", {"nosuchkey": "1"})
    with pytest.raises(ForgeError, match="gamma='abc'"):
        FakeConfig.from_preset("default", {"gamma": "abc"})
    with pytest.raises(ForgeError, match="unknown preset"):
        FakeConfig.from_preset("huge")
    with pytest.raises(ForgeError, match="not key=value"):
        parse_overrides(["gamma"])


def test_nested_override_keeps_the_presets_other_nested_values():
    class Inner(ExperimentConfig):
        lr: float = 1.0
        batch: int = 32

    class Outer(ExperimentConfig):
        inner: Inner = Field(default_factory=Inner)
        presets: ClassVar = {"quick": {"inner": {"batch": 4}}}

    cfg = Outer.from_preset("quick", {"inner.lr": "0.5"})
    assert (cfg.inner.lr, cfg.inner.batch) == (0.5, 4)
    assert Outer.presets == {"quick": {"inner": {"batch": 4}}}  # the preset itself is untouched


class Inner(BaseModel):
    lr: float = 1.0
    epochs: int = 4


class Outer(ExperimentConfig):
    inner: Inner = Field(default_factory=lambda: Inner(epochs=10))
    presets: ClassVar = {"quick": {"inner": {"lr": 0.5}}}


def test_a_nested_setting_given_in_part_keeps_the_studys_own_default_for_the_rest():
    """`--set inner.lr=…` (or a preset naming only `inner.lr`) must not reset `inner.epochs` to the class's 4."""
    assert Outer.from_preset("default").inner == Inner(lr=1.0, epochs=10)
    assert Outer.from_preset("default", {"inner.lr": "0.1"}).inner == Inner(lr=0.1, epochs=10)
    assert Outer.from_preset("quick").inner == Inner(lr=0.5, epochs=10)
    assert Outer.from_preset("quick", {"inner.epochs": "2"}).inner == Inner(lr=0.5, epochs=2)
