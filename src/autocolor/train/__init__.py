"""Training: objectives per network family, the generic loop, checkpoints, DDP."""
