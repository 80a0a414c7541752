from dlcanon.core.paper import Paper

from . import experiment

PAPER = Paper(id="rosenblatt1958", presets=experiment.PRESETS, run=experiment.run, claims=experiment.CLAIMS)
