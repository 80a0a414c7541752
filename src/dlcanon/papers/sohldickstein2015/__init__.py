"""Sohl-Dickstein et al. (2015), Deep Unsupervised Learning using Nonequilibrium Thermodynamics."""

from dlcanon.core.paper import Paper

from . import experiment

PAPER = Paper(id="sohldickstein2015", presets=experiment.PRESETS, run=experiment.run, claims=experiment.CLAIMS)
