"""Encoder, heads, tokenizer, masking and metric tests (small and fast)."""

from __future__ import annotations

import random

import pytest

torch = pytest.importorskip("torch")

from lmbench.errors import CapabilityError, ConfigError, LmbenchError  # noqa: E402
from lmbench_attention.kernels.favor import FavorAttention, FavorConfig  # noqa: E402
from lmbench_attention.kernels.lsh import LSHAttention, LSHConfig  # noqa: E402
from lmbench_attention.kernels.naive import NaiveAttention  # noqa: E402
from lmbench_attention.kernels.sdpa import SDPAttention  # noqa: E402
from lmbench_attention.metrics import Accuracy, F1Macro  # noqa: E402
from lmbench_attention.models.encoder import EncoderConfig  # noqa: E402
from lmbench_attention.models.heads import build_model, pool  # noqa: E402

torch.set_num_threads(1)

SMALL = dict(d_model=32, n_layers=2, n_heads=4, d_ff=64, max_len=64, dropout=0.0, embed_dropout=0.0,
             classifier_dropout=0.0)


def batch(b=3, n=20, vocab=50, lengths=(20, 12, 5)):
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(5, vocab, (b, n), generator=g)
    mask = torch.arange(n)[None] < torch.tensor(lengths)[:, None]
    return ids.masked_fill(~mask, 0), mask


@pytest.mark.parametrize("positions", ["learned", "sinusoidal", "rope"])
@pytest.mark.parametrize("pooling", ["cls", "mean", "max", "min"])
def test_padding_does_not_change_real_outputs(positions, pooling):
    model = build_model(EncoderConfig(**SMALL, positions=positions, pooling=pooling, pooler="roberta"),
                        vocab_size=50, attention=NaiveAttention(None), n_classes=3).eval()
    ids, mask = batch()
    _, logits = model(ids, mask)
    longer = torch.cat([ids, torch.zeros(3, 7, dtype=torch.long)], 1)
    _, logits2 = model(longer, torch.cat([mask, torch.zeros(3, 7, dtype=torch.bool)], 1))
    assert logits.shape == (3, 3)
    torch.testing.assert_close(logits, logits2, rtol=1e-4, atol=1e-5)


def test_padding_embedding_is_zero_and_gets_no_gradient():
    model = build_model(EncoderConfig(**SMALL), vocab_size=50, pad_id=0)  # untied: only the lookup uses it
    emb = model.encoder.tokens
    assert torch.count_nonzero(emb.weight[0]) == 0
    ids, mask = batch()
    loss, _ = model(ids, mask, labels=torch.tensor([0, 1, 1]))
    loss.backward()
    assert torch.count_nonzero(emb.weight.grad[0]) == 0


def test_mlm_head_is_tied_and_has_bias():
    model = build_model(EncoderConfig(**SMALL), vocab_size=50, task="mlm")
    assert model.head.decoder.weight is model.encoder.tokens.weight
    assert model.head.bias.shape == (50,)
    untied = build_model(EncoderConfig(**SMALL, tie_weights=False), vocab_size=50, task="mlm")
    assert untied.head.decoder.weight is not untied.encoder.tokens.weight


def test_rope_position_ids_shift_invariance():
    """RoPE scores depend on relative positions only: shifting all position ids keeps the output."""
    model = build_model(EncoderConfig(**SMALL, positions="rope"), vocab_size=50,
                        attention=NaiveAttention(None)).eval()
    ids, mask = batch(lengths=(20, 20, 20))
    h1 = model.encoder(ids, mask)
    pos = torch.arange(20).expand(3, 20) + 100
    h2 = model.encoder(ids, mask, position_ids=pos)
    torch.testing.assert_close(h1, h2, rtol=1e-4, atol=1e-4)
    h3 = model.encoder(ids, mask, position_ids=torch.arange(20).flip(0).expand(3, 20))
    assert not torch.allclose(h1, h3, atol=1e-3)


def test_pooling_modes():
    hidden = torch.tensor([[[1.0], [3.0], [100.0]]])
    mask = torch.tensor([[True, True, False]])
    assert pool(hidden, mask, "cls").item() == 1.0
    assert pool(hidden, mask, "mean").item() == 2.0
    assert pool(hidden, mask, "max").item() == 3.0
    assert pool(hidden, mask, "min").item() == 1.0


def test_freeze_first_layers():
    model = build_model(EncoderConfig(**SMALL), vocab_size=50)
    model.freeze_layers(1)
    assert not any(p.requires_grad for p in model.encoder.blocks[0].parameters())
    assert not model.encoder.tokens.weight.requires_grad
    assert all(p.requires_grad for p in model.encoder.blocks[1].parameters())
    assert all(p.requires_grad for p in model.head.parameters())
    with pytest.raises(ConfigError, match="cannot freeze 3 layers"):
        model.freeze_layers(3)


def test_lsh_encoder_skips_key_projection_and_all_kernels_train():
    for kernel in (NaiveAttention(None), SDPAttention(), FavorAttention(FavorConfig()),
                   LSHAttention(LSHConfig(chunk_size=8))):
        model = build_model(EncoderConfig(**SMALL), vocab_size=50, attention=kernel)
        ids, mask = batch()
        loss, _ = model(ids, mask, labels=torch.tensor([0, 1, 0]))
        loss.backward()
        assert torch.isfinite(loss)
        qkv = model.encoder.blocks[0].attn.qkv
        assert qkv.out_features == 32 * (2 if isinstance(kernel, LSHAttention) else 3)


def test_model_checks_kernel_capabilities_before_training():
    with pytest.raises(CapabilityError, match="attention.lsh.*float64"):
        build_model(EncoderConfig(**SMALL), vocab_size=50, attention=LSHAttention(LSHConfig()), dtype=torch.float64)
    with pytest.raises(LmbenchError, match="exceeds the learned position table"):
        model = build_model(EncoderConfig(**SMALL), vocab_size=50)
        model(torch.ones(1, 65, dtype=torch.long))


def test_encoder_config_validation():
    with pytest.raises(ConfigError, match="not divisible"):
        EncoderConfig(d_model=30, n_heads=4)
    assert EncoderConfig().head_dim == 64  # BERT-small default: 512 / 8


def test_metrics_equal_scikit_learn():
    from sklearn.metrics import accuracy_score, f1_score

    rng = random.Random(0)
    refs = [rng.randrange(3) for _ in range(200)]
    preds = [r if rng.random() < 0.6 else rng.randrange(3) for r in refs]
    assert F1Macro().compute(preds, refs)["f1_macro"] == f1_score(refs, preds, average="macro")
    assert Accuracy().compute(preds, refs)["accuracy"] == accuracy_score(refs, preds)


@pytest.fixture(scope="module")
def tokenizer(tmp_path_factory):
    with pytest.MonkeyPatch.context() as env:  # the module's cache, unset again after its tests
        env.setenv("LMBENCH_CACHE", str(tmp_path_factory.mktemp("cache")))
        from lmbench_attention.tokenizer import WordPieceConfig, WordPieceTokenizer

        texts = [f"the movie number {i} was {'great' if i % 2 else 'terrible'} and the actors were fine"
                 for i in range(300)]
        yield WordPieceTokenizer(WordPieceConfig(vocab_size=200, min_frequency=1), texts=texts)


def test_wordpiece_roundtrip_and_specials(tokenizer):
    ids = tokenizer.encode("The movie was great")
    assert ids[0] == tokenizer.hf.cls_token_id and ids[-1] == tokenizer.hf.sep_token_id
    assert tokenizer.decode(ids) == "the movie was great"
    assert tokenizer.pad_id == 0 and tokenizer.vocab_size <= 200
    assert max(len(x) for x in tokenizer.batch(["word " * 100], 16)) == 16


def test_mlm_masking_statistics(tokenizer):
    from transformers import DataCollatorForLanguageModeling

    collator = DataCollatorForLanguageModeling(tokenizer.hf, mlm=True, mlm_probability=0.15, seed=0,
                                               return_tensors="pt")
    texts = ["the movie was great and the actors were fine " * 6] * 200
    enc = tokenizer.batch(texts, 64)
    out = collator([{"input_ids": e} for e in enc])
    ids = torch.tensor(enc)
    labels, inputs = out["labels"], out["input_ids"]
    special = (ids == tokenizer.hf.cls_token_id) | (ids == tokenizer.hf.sep_token_id)
    chosen = labels != -100
    assert not chosen[special].any()  # specials are never masked
    rate = chosen.sum() / (~special).sum()
    assert 0.13 < rate < 0.17
    masked = (inputs == tokenizer.mask_id) & chosen
    kept = (inputs == ids) & chosen
    assert 0.76 < masked.sum() / chosen.sum() < 0.84
    assert 0.07 < kept.sum() / chosen.sum() < 0.14  # 10% kept (+ random picks of the same id)
    torch.testing.assert_close(labels[chosen], ids[chosen])


def test_training_config_shared_keys_old_names_and_batch_sizing():
    from lmbench.errors import ConfigError
    from lmbench.validate import make_config
    from lmbench_attention.recipes.finetune import FinetuneConfig
    from lmbench_attention.recipes.mlm import MLMConfig

    old = make_config(FinetuneConfig, {"warmup_ratio": 0.1, "min_lr_ratio": 0.1, "max_grad_norm": 0.5}, "recipe")
    assert (old.warmup, old.min_lr, old.grad_clip) == (0.1, pytest.approx(1e-4), 0.5)  # old names still load
    assert FinetuneConfig(max_seq_len=256, tokens_per_batch=8192).sequences_per_batch() == 32
    assert FinetuneConfig(tokens_per_batch=0, batch_size=12).sequences_per_batch() == 12
    with pytest.raises(ConfigError, match="not both"):
        FinetuneConfig(tokens_per_batch=4096, batch_size=12)
    mlm = MLMConfig(seq_lens=[128, 512], seq_len_fractions=[0.75, 0.25])
    assert [mlm.stage(p) for p in (0.0, 0.74, 0.75, 1.0)] == [128, 128, 512, 512]
    assert mlm.sequences_per_batch(128) == 4 * mlm.sequences_per_batch(512)


def test_autotinybert_s1_preset_builds_the_searched_sub_model_with_each_kernel():
    """Seed 001's experiment 3: AutoTinyBERT-S1, 5 layers, hidden 564, FFN 1054, 8 heads with q/k/v of 512
    (head size 64), ~29M parameters at BERT's 30,522 WordPiece ids; one variant per kernel."""
    from lmbench.config import build_spec, expand_variants, resolve
    from lmbench.testing import fresh_host

    host = fresh_host(entry_points=True)
    spec = build_spec(host.registries, preset="attention.autotinybert_s1")
    counts = {}
    for label, variant in expand_variants(spec):
        resolved = resolve(variant, host.registries)
        kernel = resolved.components["attention"].build()
        with torch.device("meta"):
            model = resolved.components["model"].build(vocab_size=30522, attention=kernel, n_classes=2)
        block = model.encoder.blocks[0]
        projections = 2 if label == "lsh" else 3  # Reformer's LSH shares queries and keys: one projection fewer
        assert (block.attn.qkv.in_features, block.attn.qkv.out_features, block.attn.out.in_features) == \
            (564, projections * 512, 512)
        assert block.mlp[0].out_features == 1054 and len(model.encoder.blocks) == 5
        counts[label] = sum(p.numel() for p in model.parameters())
    assert list(counts) == ["sdpa", "favor", "lsh"]
    d, inner, ff, layers, vocab, positions = 564, 512, 1054, 5, 30522, 512
    per_layer = 3 * (d * inner + inner) + (inner * d + d) + (d * ff + ff) + (ff * d + d) + 2 * 2 * d
    expected = vocab * d + positions * d + layers * per_layer + (d * d + d) + (d * 2 + 2)  # + pooler + classifier
    assert counts["sdpa"] == counts["favor"] == expected  # the kernels add no parameters
    assert counts["lsh"] == expected - layers * (d * inner + inner)  # shared QK
    bert_s1 = expected + 2 * d + 2 * d - (d * 2 + 2)  # BERT also has token-type embeddings and an embedding LayerNorm
    assert bert_s1 == 29_573_882 and abs(expected - 29_000_000) / 29_000_000 < 0.025
