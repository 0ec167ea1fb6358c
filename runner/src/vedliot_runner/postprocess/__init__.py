"""Post-processing of raw model outputs into predictions (numpy only: it runs on the boards)."""
