"""Krogh & Hertz (1991), A Simple Weight Decay Can Improve Generalization."""

from dlcanon.core.paper import Paper

from . import experiment

PAPER = Paper(id="krogh1991", presets=experiment.PRESETS, run=experiment.run, claims=experiment.CLAIMS)
