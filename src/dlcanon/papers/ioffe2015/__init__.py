"""Ioffe & Szegedy (2015), Batch Normalization: Accelerating Deep Network Training by Reducing Internal
Covariate Shift."""

from dlcanon.core.paper import Paper

from . import experiment

PAPER = Paper(id="ioffe2015", presets=experiment.PRESETS, run=experiment.run, claims=experiment.CLAIMS)
