"""Mikolov et al. (2012), Distributed Representations of Words and Phrases and their Compositionality."""

from dlcanon.core.paper import Paper

from . import experiment

PAPER = Paper(id="mikolov2012a", presets=experiment.PRESETS, run=experiment.run, claims=experiment.CLAIMS)
