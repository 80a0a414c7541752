from dlcanon.core.paper import Paper

from . import experiment

PAPER = Paper(id="solla1988", presets=experiment.PRESETS, run=experiment.run, claims=experiment.CLAIMS)
