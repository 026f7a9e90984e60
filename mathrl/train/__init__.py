"""Training: GRPO on a config (the trainer, its callbacks, checkpoints, metrics, live curves), planned and launched.

Above eval/ (held-out checks score with it) and the core modules; report/ and the command line read what it writes.
"""
