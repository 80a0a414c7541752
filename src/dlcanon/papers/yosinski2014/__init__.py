"""Yosinski et al. (2014), How Transferable are Features in Deep Neural Networks?."""

from dlcanon.core.paper import Paper

from . import experiment

PAPER = Paper(id="yosinski2014", presets=experiment.PRESETS, run=experiment.run, claims=experiment.CLAIMS)
