"""Krizhevsky et al. (2012), ImageNet Classification with Deep Convolutional Neural Networks."""

from dlcanon.core.paper import Paper

from . import experiment

PAPER = Paper(id="krizhevsky2012", presets=experiment.PRESETS, run=experiment.run, claims=experiment.CLAIMS)
