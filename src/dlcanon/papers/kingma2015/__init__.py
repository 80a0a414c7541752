"""Kingma & Ba (2015), Adam: A Method for Stochastic Optimization."""

from dlcanon.core.paper import Paper

from . import experiment

PAPER = Paper(id="kingma2015", presets=experiment.PRESETS, run=experiment.run, claims=experiment.CLAIMS)
