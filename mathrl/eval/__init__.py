"""Evaluation: score a model on a split (accuracy with intervals, records, summaries) and sort its wrong answers.

Below train/: training's held-out checks call this scoring; nothing here imports training.
"""
