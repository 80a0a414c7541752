"""Vinyals et al. (2015), Show and Tell: A Neural Image Caption Generator."""

from dlcanon.core.paper import Paper

from . import experiment

PAPER = Paper(id="vinyals2015", presets=experiment.PRESETS, run=experiment.run, claims=experiment.CLAIMS)
