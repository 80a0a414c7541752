"""He et al. (2015), Deep Residual Learning for Image Recognition."""

from dlcanon.core.paper import Paper

from . import experiment

PAPER = Paper(id="he2015a", presets=experiment.PRESETS, run=experiment.run, claims=experiment.CLAIMS)
