from dlcanon.core.paper import Paper

from . import experiment

PAPER = Paper(id="lettvin1959", presets=experiment.PRESETS, run=experiment.run, claims=experiment.CLAIMS)
