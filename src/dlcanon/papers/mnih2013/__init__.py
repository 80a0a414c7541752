"""Mnih et al. (2013), Playing Atari with Deep Reinforcement Learning."""

from dlcanon.core.paper import Paper

from . import experiment

PAPER = Paper(id="mnih2013", presets=experiment.PRESETS, run=experiment.run, claims=experiment.CLAIMS)
