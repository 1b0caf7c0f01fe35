"""lmbench's first-party `peft` lab plugin."""

__version__ = "0.1.0"
