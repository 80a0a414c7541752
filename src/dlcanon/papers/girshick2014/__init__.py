"""Girshick et al. (2014), Rich Feature Hierarchies for Accurate Object Detection and Semantic Segmentation."""

from dlcanon.core.paper import Paper

from . import experiment

PAPER = Paper(id="girshick2014", presets=experiment.PRESETS, run=experiment.run, claims=experiment.CLAIMS)
