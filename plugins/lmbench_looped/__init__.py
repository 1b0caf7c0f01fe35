"""lmbench's first-party `looped` lab plugin."""

__version__ = "0.1.0"
