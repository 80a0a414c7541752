"""Kingma & Welling (2013), Auto-Encoding Variational Bayes."""

from dlcanon.core.paper import Paper

from . import experiment

PAPER = Paper(id="kingma2013", presets=experiment.PRESETS, run=experiment.run, claims=experiment.CLAIMS)
