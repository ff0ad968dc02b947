"""`synccash route simulate`: replay synthetic payments through the real core over a scenario."""

from synccash.cli.simulate.engine import PolicyResult, SimulationResult, simulate
from synccash.cli.simulate.scenario import Scenario, ScenarioError, load_scenario, parse_scenario

__all__ = [
    "PolicyResult",
    "Scenario",
    "ScenarioError",
    "SimulationResult",
    "load_scenario",
    "parse_scenario",
    "simulate",
]
