"""Goodfellow et al. (2014), Generative Adversarial Nets."""

from dlcanon.core.paper import Paper

from . import experiment

PAPER = Paper(id="goodfellow2014", presets=experiment.PRESETS, run=experiment.run, claims=experiment.CLAIMS)
