"""One scaling-sweep run end to end: budget, data, training loop, checkpoints, results."""
