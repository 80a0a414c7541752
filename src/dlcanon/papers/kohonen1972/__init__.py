"""Kohonen (1972), Correlation Matrix Memories."""

from dlcanon.core.paper import Paper

from . import experiment

PAPER = Paper(id="kohonen1972", presets=experiment.PRESETS, run=experiment.run, claims=experiment.CLAIMS)
