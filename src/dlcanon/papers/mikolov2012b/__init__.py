"""Mikolov et al. (2012), Efficient Estimation of Word Representations in Vector Space."""

from dlcanon.core.paper import Paper

from . import experiment

PAPER = Paper(id="mikolov2012b", presets=experiment.PRESETS, run=experiment.run, claims=experiment.CLAIMS)
