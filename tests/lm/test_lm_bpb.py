"""Bits per byte count the bytes of the predicted tokens only."""

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from lmbench_lm.evaluate import evaluate  # noqa: E402
from lmbench_lm.tokens import encode_documents  # noqa: E402

# Short documents whose first token is long: "Internationalisation" (20 bytes) then short words.
DOCS = ["Internationalisation is hard", "Supercalifragilistic ok", "Antidisestablishment a b c"]


class PieceTokenizer:
    """Word pieces, each with its leading space, so the pieces' bytes add up to the document's."""

    def __init__(self, docs):
        pieces = sorted({p for d in docs for p in self._pieces(d)})
        self.vocab = ["<eos>", *pieces]
        self.ids = {p: i for i, p in enumerate(self.vocab)}
        self.eos_id, self.vocab_size = 0, len(self.vocab)

    @staticmethod
    def _pieces(doc):
        words = doc.split(" ") if doc else []
        return [*words[:1], *(" " + w for w in words[1:])]

    def encode_batch(self, texts):
        return [[self.ids[p] for p in self._pieces(t)] for t in texts]

    def decode(self, ids):
        return "".join(self.vocab[i] for i in ids)


class Uniform(torch.nn.Module):
    """Equal logits everywhere: every target costs exactly ln V nats."""

    def __init__(self, vocab):
        super().__init__()
        self.vocab = vocab

    def forward(self, idx):  # (B, T) -> (B, T, V)
        return torch.zeros(*idx.shape, self.vocab)


def test_padded_bits_per_byte_divide_by_the_bytes_of_predicted_tokens(tmp_path):
    tok = PieceTokenizer(DOCS)
    split = encode_documents(DOCS, tok, tmp_path / "split")
    ev = evaluate(Uniform(tok.vocab_size), split, context=16, batch_size=2, device="cpu", mode="padded")
    pieces = [PieceTokenizer._pieces(d) for d in DOCS]
    targets = sum(len(p) for p in pieces)  # every piece but the first, plus EOS
    target_bytes = sum(len("".join(p[1:]).encode()) + 1 for p in pieces)  # EOS is one byte
    assert ev["tokens"] == targets
    assert ev["loss"] == pytest.approx(math.log(tok.vocab_size))
    assert ev["bits_per_byte"] == pytest.approx(targets * math.log2(tok.vocab_size) / target_bytes)
    assert split.first_token_bytes == sum(len(p[0].encode()) for p in pieces)
    # the split's average bytes per token (first tokens included) would understate the bits per byte here
    assert split.bytes_per_target("padded") < split.bytes_per_token


def test_packed_bits_per_byte_keep_the_stream_average(tmp_path):
    tok = PieceTokenizer(DOCS)
    split = encode_documents(DOCS * 4, tok, tmp_path / "split")
    ev = evaluate(Uniform(tok.vocab_size), split, context=4, batch_size=2, device="cpu", mode="packed")
    assert ev["bits_per_byte"] == pytest.approx(math.log2(tok.vocab_size) / (split.n_bytes / split.n_tokens))


def test_an_empty_document_counts_its_eos_as_one_byte(tmp_path):
    tok = PieceTokenizer(DOCS)
    split = encode_documents(["", DOCS[0]], tok, tmp_path / "split")
    assert split.first_token_bytes == 1 + len("Internationalisation")
    assert np.asarray(split.tokens[:1]).tolist() == [tok.eos_id]
