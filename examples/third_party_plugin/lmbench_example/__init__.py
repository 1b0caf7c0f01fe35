"""A third-party lmbench plugin: character bigram LM, top-1 accuracy, a fit recipe, a preset."""

__version__ = "0.2.0"
