"""Bengio et al. (2003), A Neural Probabilistic Language Model."""

from dlcanon.core.paper import Paper

from . import experiment

PAPER = Paper(id="bengio2003", presets=experiment.PRESETS, run=experiment.run, claims=experiment.CLAIMS)
