"""The encoder model and its heads."""
