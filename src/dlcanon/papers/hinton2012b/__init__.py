"""Hinton et al. (2012), Improving Neural Networks by Preventing Co-adaptation of Feature Detectors."""

from dlcanon.core.paper import Paper

from . import experiment

PAPER = Paper(id="hinton2012b", presets=experiment.PRESETS, run=experiment.run, claims=experiment.CLAIMS)
