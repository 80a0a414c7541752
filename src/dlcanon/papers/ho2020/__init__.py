"""Ho et al. (2020), Denoising Diffusion Probabilistic Models."""

from dlcanon.core.paper import Paper

from . import experiment

PAPER = Paper(id="ho2020", presets=experiment.PRESETS, run=experiment.run, claims=experiment.CLAIMS)
