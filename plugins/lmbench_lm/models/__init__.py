"""Language models of the LM lab: ``lm.lstm`` and ``lm.transformer``.

Both take ``(config, vocab_size=..., [attention=...])``, map ids (B, T) to logits (B, T, V) with
``model(idx)``, and decode incrementally with ``model.step(idx, state) -> (logits, state)``
(KV cache for the Transformer, carried (h, c) for the LSTM).
"""
