"""Mnih et al. (2015), Human-Level Control through Deep Reinforcement Learning."""

from dlcanon.core.paper import Paper

from . import experiment

PAPER = Paper(id="mnih2015", presets=experiment.PRESETS, run=experiment.run, claims=experiment.CLAIMS)
