"""Cybenko (1989), Approximation by Superpositions of a Sigmoidal Function."""

from dlcanon.core.paper import Paper

from . import experiment

PAPER = Paper(id="cybenko1989", presets=experiment.PRESETS, run=experiment.run, claims=experiment.CLAIMS)
