"""Glorot & Bengio (2010), Understanding the Difficulty of Training Deep Feedforward Neural Networks."""

from dlcanon.core.paper import Paper

from . import experiment

PAPER = Paper(id="glorot2010", presets=experiment.PRESETS, run=experiment.run, claims=experiment.CLAIMS)
