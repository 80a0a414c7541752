"""Radford, Metz & Chintala (2016), Unsupervised Representation Learning with Deep Convolutional GANs (DCGAN)."""

from dlcanon.core.paper import Paper

from . import experiment

PAPER = Paper(id="radford2016", presets=experiment.PRESETS, run=experiment.run, claims=experiment.CLAIMS)
