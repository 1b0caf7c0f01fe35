"""A third-party lmbench plugin: bigram and GRU LMs, top-1 and top-k accuracy, a fit recipe, a preset."""

__version__ = "0.3.0"
