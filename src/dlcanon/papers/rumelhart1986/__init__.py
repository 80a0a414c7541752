from dlcanon.core.paper import Paper

from . import experiment

PAPER = Paper(id="rumelhart1986", presets=experiment.PRESETS, run=experiment.run, claims=experiment.CLAIMS)
