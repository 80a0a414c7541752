"""Cho et al. (2014), Learning Phrase Representations using RNN Encoder-Decoder for Statistical Machine Translation."""

from dlcanon.core.paper import Paper

from . import experiment

PAPER = Paper(id="cho2014", presets=experiment.PRESETS, run=experiment.run, claims=experiment.CLAIMS)
