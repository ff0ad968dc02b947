"""`synccash route simulate`: replay synthetic payments through the real core over a scenario."""

from synccash.cli.simulate.engine import (
    PolicyResult,
    SeedSweep,
    SimulationResult,
    simulate,
    sweep,
)
from synccash.cli.simulate.scenario import Scenario, ScenarioError, load_scenario, parse_scenario

__all__ = [
    "PolicyResult",
    "Scenario",
    "ScenarioError",
    "SeedSweep",
    "SimulationResult",
    "load_scenario",
    "parse_scenario",
    "simulate",
    "sweep",
]
