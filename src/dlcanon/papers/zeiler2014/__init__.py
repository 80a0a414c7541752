"""Zeiler & Fergus (2014), Visualizing and Understanding Convolutional Networks."""

from dlcanon.core.paper import Paper

from . import experiment

PAPER = Paper(id="zeiler2014", presets=experiment.PRESETS, run=experiment.run, claims=experiment.CLAIMS)
