from dlcanon.core.paper import Paper

from . import experiment

PAPER = Paper(id="lecun1989", presets=experiment.PRESETS, run=experiment.run, claims=experiment.CLAIMS)
