"""Hinton (2005), What Kind of Graphical Model is the Brain?."""

from dlcanon.core.paper import Paper

from . import experiment

PAPER = Paper(id="hinton2005", presets=experiment.PRESETS, run=experiment.run, claims=experiment.CLAIMS)
