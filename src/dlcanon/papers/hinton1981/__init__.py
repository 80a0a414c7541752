"""Hinton (1981), Implementing Semantic Networks in Parallel Hardware; with its learned successor (Hinton 1986)."""

from dlcanon.core.paper import Paper

from . import experiment

PAPER = Paper(id="hinton1981", presets=experiment.PRESETS, run=experiment.run, claims=experiment.CLAIMS)
