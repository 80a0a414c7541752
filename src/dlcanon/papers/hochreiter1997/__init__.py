"""Hochreiter & Schmidhuber (1997), Long Short-Term Memory."""

from dlcanon.core.paper import Paper

from . import experiment

PAPER = Paper(id="hochreiter1997", presets=experiment.PRESETS, run=experiment.run, claims=experiment.CLAIMS)
