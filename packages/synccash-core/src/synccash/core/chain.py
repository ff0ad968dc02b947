"""The expected cost of an attempt chain: try wallets in order until one succeeds.

Each step i is tried if every earlier step failed over; it succeeds with probability
`s_i` (the provider processes it *and* the wallet holds enough). Its cost when tried
is one prompt (`prompt_cost`, the merchant's λ) plus, if it succeeds, its fee. If
every step fails the payment fails, which costs `penalty`::

    E[cost] = sum_i R_i * (prompt_cost + s_i * fee_i)  +  penalty * R_(k+1)
    R_1 = 1,   R_(i+1) = R_i * (1 - s_i)

The failure term is the same for every order of the same wallets, so the best order
of a set is the classic optimal-search rule: ascending `fee_i + prompt_cost / s_i`
(swap two neighbours i, j: i goes first iff c_i * s_j <= c_j * s_i with
c = prompt_cost + s * fee). Appending a step lowers the expected cost iff its index
is below the penalty, so the best chain is the prefix of that order whose indices are
below the penalty. Probabilities and costs are floats (expectations, in
pesewas-equivalent); the fees themselves stay integer pesewas.
"""

from __future__ import annotations

from collections.abc import Sequence

from attrs import frozen


@frozen
class ChainStep:
    """One wallet in a chain: its success probability and its fee in pesewas."""

    success: float
    fee_minor: int


def step_index(step: ChainStep, prompt_cost: float) -> float:
    """The step's ordering index, `fee + prompt_cost / success` (lower goes first)."""
    if step.success <= 0.0:
        return float("inf")
    return step.fee_minor + prompt_cost / step.success


def expected_cost(steps: Sequence[ChainStep], prompt_cost: float, penalty: float) -> float:
    """E[fees + prompt_cost * prompts + penalty * failed] of trying `steps` in order."""
    reach = 1.0
    total = 0.0
    for step in steps:
        total += reach * (prompt_cost + step.success * step.fee_minor)
        reach *= 1.0 - step.success
    return total + penalty * reach


def expected_prompts(steps: Sequence[ChainStep]) -> float:
    """The expected number of steps tried (prompts the payer may see)."""
    reach = 1.0
    total = 0.0
    for step in steps:
        total += reach
        reach *= 1.0 - step.success
    return total


def failure_probability(steps: Sequence[ChainStep]) -> float:
    """The probability that every step fails."""
    reach = 1.0
    for step in steps:
        reach *= 1.0 - step.success
    return reach
