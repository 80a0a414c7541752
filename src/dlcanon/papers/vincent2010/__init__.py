"""Vincent, Larochelle, Lajoie, Bengio & Manzagol (2010), Stacked Denoising Autoencoders: Learning Useful
Representations in a Deep Network with a Local Denoising Criterion."""

from dlcanon.core.paper import Paper

from . import experiment

PAPER = Paper(id="vincent2010", presets=experiment.PRESETS, run=experiment.run, claims=experiment.CLAIMS)
