"""Price math: per-token rates, cached input, dated model ids, and unpriced never being $0."""

from __future__ import annotations

import pytest

from runwell.telemetry.prices import BUILTIN_PRICES, Price, PriceTable


@pytest.fixture
def prices() -> PriceTable:
    return PriceTable()


def test_cost_is_tokens_times_rate_per_million(prices: PriceTable) -> None:
    # gpt-4o: $2.50 in, $10.00 out per 1M tokens.
    assert prices.cost("gpt-4o", 1000, 500) == pytest.approx((1000 * 2.50 + 500 * 10.00) / 1e6)
    assert prices.cost("claude-sonnet-4-5", 2_000_000, 1_000_000) == pytest.approx(6.0 + 15.0)


def test_cached_tokens_are_part_of_the_input_billed_at_the_cached_rate(prices: PriceTable) -> None:
    # 1000 input of which 400 cached: 600 x $2.50 + 400 x $1.25, plus 100 x $10 output.
    expected = (600 * 2.50 + 400 * 1.25 + 100 * 10.00) / 1e6
    assert prices.cost("gpt-4o", 1000, 100, 400) == pytest.approx(expected)
    assert prices.cost("gpt-4o", 1000, 100, 400) < prices.cost("gpt-4o", 1000, 100)  # type: ignore[operator]


def test_cached_tokens_fall_back_to_the_input_rate_without_a_cached_price() -> None:
    table = PriceTable({"house-model": Price(1.0, 2.0)}, builtin=False)
    assert table.cost("house-model", 1000, 0, 1000) == pytest.approx(1000 * 1.0 / 1e6)


def test_an_unknown_model_is_unpriced_not_free(prices: PriceTable) -> None:
    assert prices.cost("mystery-model-9000", 1000, 1000) is None
    assert "mystery-model-9000" not in prices


def test_missing_token_counts_give_no_cost(prices: PriceTable) -> None:
    assert prices.cost("gpt-4o", None, 10) is None
    assert prices.cost("gpt-4o", 10, None) is None
    assert prices.cost("gpt-4o", 10, 10, None) is not None


def test_the_local_model_costs_zero_and_is_priced(prices: PriceTable) -> None:
    assert prices.cost("smollm2-135m-instruct", 5000, 5000) == 0.0


@pytest.mark.parametrize(
    ("model", "base"),
    [
        ("gpt-4o-2024-08-06", "gpt-4o"),
        ("gpt-4o-mini-2024-07-18", "gpt-4o-mini"),  # the longest matching entry wins
        ("gpt-4.1-nano-2025-04-14", "gpt-4.1-nano"),
        ("o3-2025-04-16", "o3"),
        ("gpt-5-mini-2025-08-07", "gpt-5-mini"),
        ("claude-sonnet-4-20250514", "claude-sonnet-4"),
        ("claude-sonnet-4-5-20250929", "claude-sonnet-4-5"),
        ("claude-opus-4-1-20250805", "claude-opus-4-1"),
        ("claude-3-5-haiku-latest", "claude-3-5-haiku"),
        ("claude-sonnet-4@20250514", "claude-sonnet-4"),
        ("GPT-4o", "gpt-4o"),
    ],
)
def test_dated_model_ids_find_their_base_price(prices: PriceTable, model: str, base: str) -> None:
    assert prices.price(model) == BUILTIN_PRICES[base]


@pytest.mark.parametrize("model", ["o3-mini", "o3-pro", "claude-opus-4-5", "gpt-4o-audio-preview", "gpt-5.1"])
def test_a_model_sharing_a_prefix_is_not_priced_as_its_neighbour(prices: PriceTable, model: str) -> None:
    # o3-mini costs less than o3, claude-opus-4-5 less than claude-opus-4: guessing would lie.
    assert prices.price(model) is None


def test_overrides_win_and_extend(prices: PriceTable) -> None:
    table = PriceTable({"gpt-4o": Price(1.0, 1.0), "my-vllm-llama": Price(0.2, 0.2)})
    assert table.cost("gpt-4o-2024-08-06", 1_000_000, 0) == pytest.approx(1.0)
    assert table.cost("my-vllm-llama", 1_000_000, 1_000_000) == pytest.approx(0.4)
    assert prices.cost("gpt-4o", 1_000_000, 0) == pytest.approx(2.5)  # other tables unaffected


def test_negative_prices_are_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        Price(-1.0, 1.0)


def test_the_builtin_table_is_read_only() -> None:
    with pytest.raises(TypeError):
        BUILTIN_PRICES["gpt-4o"] = Price(0, 0)  # type: ignore[index]
