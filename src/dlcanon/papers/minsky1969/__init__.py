"""Minsky & Papert (1969), Perceptrons: An Introduction to Computational Geometry."""

from dlcanon.core.paper import Paper

from . import experiment

PAPER = Paper(id="minsky1969", presets=experiment.PRESETS, run=experiment.run, claims=experiment.CLAIMS)
