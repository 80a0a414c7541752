"""Collobert et al. (2011), Natural Language Processing (Almost) from Scratch."""

from dlcanon.core.paper import Paper

from . import experiment

PAPER = Paper(id="collobert2011a", presets=experiment.PRESETS, run=experiment.run, claims=experiment.CLAIMS)
