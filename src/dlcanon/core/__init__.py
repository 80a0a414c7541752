"""What no paper is about: the Paper/Claim contract, the registry, runtime, data, checkpoints, results."""
