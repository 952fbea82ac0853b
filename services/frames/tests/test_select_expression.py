"""The select expression that lets ffmpeg convert and pipe only the sampled frames: true for exactly the
asked-for frame numbers, short for the plans sampling makes, and no expression when it would be too long."""

from __future__ import annotations

import random
import re

import pytest

from services.frames.adapters.ffmpeg import select_expression
from services.frames.domain import sample_indices, thin


def evaluate(expression: str, n: int) -> bool:
    """ffmpeg's meaning of the few functions the expression uses, for frame number ``n``."""

    def between(x: int, low: int, high: int) -> int:
        return int(low <= x <= high)

    def eq(a: int, b: int) -> int:
        return int(a == b)

    def mod(a: int, b: int) -> int:
        return a % b

    def not_(a: int) -> int:
        return int(a == 0)

    python = re.sub(r"\bnot\(", "not_(", expression)
    return bool(eval(python, {"between": between, "eq": eq, "mod": mod, "not_": not_, "n": n}))


@pytest.mark.parametrize(
    "indices",
    [
        sample_indices(300, 20),  # every 20th and the last
        sample_indices(60, 5),
        sample_indices(7, 1),
        thin(sample_indices(3000, 1), 60),  # thinned: unevenly spaced
        [0],
        [4, 9],
        [0, 1, 2, 10, 11, 12, 40],
    ],
)
def test_true_for_exactly_the_asked_frames(indices: list[int]) -> None:
    expression = select_expression(frozenset(indices))
    assert expression is not None
    last = max(indices) + 25
    assert [n for n in range(last) if evaluate(expression, n)] == sorted(indices)


def test_step_sampling_needs_one_or_two_terms() -> None:
    expression = select_expression(frozenset(sample_indices(300, 20)))
    assert expression == "between(n,0,280)*not(mod(n-0,20))+eq(n,299)"


def test_too_scattered_gives_no_expression() -> None:
    scattered = frozenset(random.Random(7).sample(range(10_000), 200))
    assert select_expression(scattered, max_terms=64) is None
    assert select_expression(frozenset(range(0, 1000, 7))) is not None  # one run, however long
