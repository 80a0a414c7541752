"""Bahdanau et al. (2015), Neural Machine Translation by Jointly Learning to Align and Translate."""

from dlcanon.core.paper import Paper

from . import experiment

PAPER = Paper(id="bahdanau2015", presets=experiment.PRESETS, run=experiment.run, claims=experiment.CLAIMS)
