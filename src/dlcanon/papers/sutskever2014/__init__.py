"""Sutskever et al. (2014), Sequence to Sequence Learning with Neural Networks."""

from dlcanon.core.paper import Paper

from . import experiment

PAPER = Paper(id="sutskever2014", presets=experiment.PRESETS, run=experiment.run, claims=experiment.CLAIMS)
