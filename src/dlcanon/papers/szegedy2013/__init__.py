"""Szegedy et al. (2013), Intriguing Properties of Neural Networks."""

from dlcanon.core.paper import Paper

from . import experiment

PAPER = Paper(id="szegedy2013", presets=experiment.PRESETS, run=experiment.run, claims=experiment.CLAIMS)
