"""Recipes of the attention lab: MLM pretraining, task-adaptive pretraining, fine-tuning, kernel scaling."""
