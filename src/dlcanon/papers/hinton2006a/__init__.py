"""Hinton et al. (2006), A Fast Learning Algorithm for Deep Belief Nets."""

from dlcanon.core.paper import Paper

from . import experiment

PAPER = Paper(id="hinton2006a", presets=experiment.PRESETS, run=experiment.run, claims=experiment.CLAIMS)
