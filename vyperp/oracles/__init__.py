"""Off-chain price paths for vyperp: real windows, user files, synthetic generators,
scenario files, the oracle feeder and the spot-impact model.

Modules: :mod:`oracles.pricepath` (``PricePath``, wad helpers),
:mod:`oracles.sources` (real/user data loaders), :mod:`oracles.synthetic`
(``gbm``, ``jump_diffusion``, ``scripted_shock``), :mod:`oracles.scenario`
(``load_scenario``), :mod:`oracles.feeder` (``Feeder``), :mod:`oracles.impact`
(``SpotImpact``).
"""

from ..sim.impact import SpotImpact
from ..sim.scenario import Scenario, ScenarioError, list_scenarios, load_scenario
from .feeder import Feeder
from .pricepath import WAD, PricePath, from_wad, to_wad
from .sources import REAL_WINDOWS, load_kline_csv, load_real, load_user_file
from .synthetic import gbm, jump_diffusion, scripted_shock

__all__ = [
    "WAD",
    "PricePath",
    "to_wad",
    "from_wad",
    "REAL_WINDOWS",
    "load_kline_csv",
    "load_real",
    "load_user_file",
    "gbm",
    "jump_diffusion",
    "scripted_shock",
    "Scenario",
    "ScenarioError",
    "load_scenario",
    "list_scenarios",
    "Feeder",
    "SpotImpact",
]
