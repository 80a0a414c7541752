from dlcanon.core.paper import Paper

from . import experiment

PAPER = Paper(id="elman1990", presets=experiment.PRESETS, run=experiment.run, claims=experiment.CLAIMS)
