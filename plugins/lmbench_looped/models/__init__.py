"""Models of the looped lab: GPT-2 (vanilla), Universal Transformer, looped transformer."""
