"""Prices and models (`drafting/pricing.py`): the default model is the newest Sonnet the SDK knows; cost estimates
follow the published price table (cache reads and writes, batches at half price)."""

from __future__ import annotations

import pytest

from studyforge.drafting.pricing import default_model, known_models


def test_default_model_is_the_newest_sonnet_the_sdk_knows():
    model = default_model()
    assert model in known_models() and model.startswith("claude-sonnet-")
    newer = [m for m in known_models() if m.startswith("claude-sonnet-") and m.count("-") <= 3
             and tuple(map(int, m.split("-")[2:])) > tuple(map(int, model.split("-")[2:]))]
    assert newer == []


def test_price_table_estimates():
    from studyforge.drafting.llm import Usage
    from studyforge.drafting.pricing import estimate_cost, family, price_of

    # Sonnet: $3 / $15 per million; cache reads 0.1×, cache writes 1.25× the input price; batches half
    usage = Usage(input_tokens=1_000_000, output_tokens=100_000, cache_read_tokens=1_000_000,
                  cache_write_tokens=1_000_000)
    assert estimate_cost("claude-sonnet-4-5", usage) == pytest.approx(3 + 1.5 + 0.3 + 3.75)
    assert estimate_cost("claude-sonnet-4-5", usage, batch=True) == pytest.approx((3 + 1.5 + 0.3 + 3.75) / 2)
    assert price_of("claude-opus-4-1-20250805").input == 15 and price_of("claude-opus-4-5").input == 5
    assert family("claude-3-5-haiku-20241022") == "haiku" and price_of("claude-haiku-4-5").output == 5
    assert estimate_cost("claude-unknownfamily-9", usage) is None
