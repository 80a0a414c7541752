"""McCulloch & Pitts (1943), A Logical Calculus of the Ideas Immanent in Nervous Activity."""

from dlcanon.core.paper import Paper

from . import experiment

PAPER = Paper(id="mcculloch1943", presets=experiment.PRESETS, run=experiment.run, claims=experiment.CLAIMS)
