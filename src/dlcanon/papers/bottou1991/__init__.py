from dlcanon.core.paper import Paper

from . import experiment

PAPER = Paper(id="bottou1991", presets=experiment.PRESETS, run=experiment.run, claims=experiment.CLAIMS)
