"""Adaptation methods as model components: a pretrained base wrapped by IA3, LoRA, or left whole.

Each registered model (``peft.base``, also named ``peft.smollm2``; ``peft.ia3``, ``peft.lora``,
``peft.full``) is a factory
``factory(config, device="cpu", seed=0)`` returning a ``torch.nn.Module`` (a peft ``PeftModel``
for IA3/LoRA) with two extra attributes the recipes use: ``lmbench_tokenizer`` and
``lmbench_method``. ``base`` picks the pretrained model (see :mod:`lmbench_peft.base_models`);
``adapter`` loads a saved adapter folder (written by ``peft.train``) instead of a fresh one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lmbench import ConfigError

from .base_models import ModelLoadError, count_params, load_model, load_tokenizer

IA3_TARGETS = ["k_proj", "v_proj", "down_proj"]
IA3_FEEDFORWARD = ["down_proj"]
LORA_TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj"]


@dataclass
class BaseConfig:
    """Options shared by every model of the lab."""

    base: str = "smollm2"  # smollm2 | hf:<hub name> | <HF folder> | <file.gguf> | random:tiny
    load_in: str = "none"  # none | 8bit | 4bit (bitsandbytes, CUDA only)
    dtype: str = "float32"  # weights dtype when not quantised
    adapter: str = ""  # a saved adapter folder to load (peft.ia3 / peft.lora), e.g. <run dir>/adapter


def _load(config: BaseConfig, device: str, seed: int) -> tuple[Any, Any]:
    tok = load_tokenizer(config.base)
    model = load_model(config.base, device=device, load_in=config.load_in, dtype=config.dtype, seed=seed)
    if config.load_in in ("8bit", "4bit"):
        from peft import prepare_model_for_kbit_training

        model = prepare_model_for_kbit_training(model)
    return model, tok


def _finish(model: Any, tok: Any, method: str) -> Any:
    model.lmbench_tokenizer = tok
    model.lmbench_method = method
    return model


def _module_names(model: Any) -> set[str]:
    return {name.rsplit(".", 1)[-1] for name, _ in model.named_modules()}


def _load_adapter(model: Any, folder: str, method: str) -> Any:
    from peft import PeftModel

    path = Path(folder).expanduser()
    if not (path / "adapter_config.json").exists():
        raise ModelLoadError(f"{path} holds no adapter (adapter_config.json); give the 'adapter' folder of a "
                             f"peft.train run ({method})")
    return PeftModel.from_pretrained(model, str(path), is_trainable=True)


class BaseModel:
    """``peft.base`` (or ``peft.smollm2``): the pretrained model as it is, frozen; evaluation and search only.

    With ``adapter`` it is a saved IA3/LoRA adapter on top, frozen; with ``base=<folder>`` a saved
    fully fine-tuned model. Its method is ``base``.
    """

    @dataclass
    class Config(BaseConfig):
        """Options of the bare base model."""

    def __new__(cls, config: Config, device: str = "cpu", seed: int = 0) -> Any:
        model, tok = _load(config, device, seed)
        if config.adapter:
            model = _load_adapter(model, config.adapter, "base")
        for p in model.parameters():
            p.requires_grad_(False)
        return _finish(model, tok, "base")


class IA3Model:
    """``peft.ia3``: (IA)^3 scaling vectors on attention key/value and the FFN down projection."""

    @dataclass
    class Config(BaseConfig):
        """IA3 options; ``feedforward_modules`` scale their input, the others their output."""

        target_modules: list[str] = field(default_factory=lambda: list(IA3_TARGETS))
        feedforward_modules: list[str] = field(default_factory=lambda: list(IA3_FEEDFORWARD))

        def __post_init__(self) -> None:
            if not set(self.feedforward_modules) <= set(self.target_modules):
                raise ValueError("feedforward_modules must be a subset of target_modules")

    def __new__(cls, config: Config, device: str = "cpu", seed: int = 0) -> Any:
        from peft import IA3Config, get_peft_model

        model, tok = _load(config, device, seed)
        if config.adapter:
            return _finish(_load_adapter(model, config.adapter, "ia3"), tok, "ia3")
        missing = set(config.target_modules) - _module_names(model)
        if missing:
            raise ConfigError(f"model.target_modules {sorted(missing)} not found in {config.base}; "
                              f"set model.target_modules to module names of this architecture")
        peft_config = IA3Config(task_type="CAUSAL_LM", target_modules=list(config.target_modules),
                                feedforward_modules=list(config.feedforward_modules))
        return _finish(get_peft_model(model, peft_config), tok, "ia3")


class LoRAModel:
    """``peft.lora``: low-rank updates (rank ``r``, scale ``alpha/r``) on the chosen linear layers."""

    @dataclass
    class Config(BaseConfig):
        """LoRA options."""

        r: int = 8
        alpha: float = 16.0
        dropout: float = 0.05
        target_modules: list[str] = field(default_factory=lambda: list(LORA_TARGETS))

        def __post_init__(self) -> None:
            if self.r < 1:
                raise ValueError("r must be >= 1")
            if not 0 <= self.dropout < 1:
                raise ValueError("dropout must be in [0, 1)")

    def __new__(cls, config: Config, device: str = "cpu", seed: int = 0) -> Any:
        import torch
        from peft import LoraConfig, get_peft_model

        model, tok = _load(config, device, seed)
        if config.adapter:
            return _finish(_load_adapter(model, config.adapter, "lora"), tok, "lora")
        missing = set(config.target_modules) - _module_names(model) - {"all-linear"}
        if missing:
            raise ConfigError(f"model.target_modules {sorted(missing)} not found in {config.base}; "
                              f"set model.target_modules to module names of this architecture")
        targets: Any = "all-linear" if config.target_modules == ["all-linear"] else list(config.target_modules)
        peft_config = LoraConfig(task_type="CAUSAL_LM", r=config.r, lora_alpha=config.alpha,
                                 lora_dropout=config.dropout, target_modules=targets)
        torch.manual_seed(seed)  # LoRA A matrices are random
        return _finish(get_peft_model(model, peft_config), tok, "lora")


class FullModel:
    """``peft.full``: full fine-tuning baseline (every parameter trainable)."""

    @dataclass
    class Config(BaseConfig):
        """Options of full fine-tuning."""

    def __new__(cls, config: Config, device: str = "cpu", seed: int = 0) -> Any:
        if config.adapter:
            raise ConfigError("peft.full trains every weight: load a saved full model with model.base=<folder>")
        if config.load_in != "none":
            raise ConfigError("peft.full cannot train quantised weights; use peft.lora or peft.ia3 with load_in")
        model, tok = _load(config, device, seed)
        for p in model.parameters():
            p.requires_grad_(True)
        return _finish(model, tok, "full")


def trainable_summary(model: Any) -> dict[str, float]:
    """``trainable_params``, ``params`` and ``trainable_percent`` of a (possibly wrapped) model."""
    trainable, total = count_params(model)
    return {"trainable_params": trainable, "params": total,
            "trainable_percent": 100.0 * trainable / total if total else 0.0}


def ia3_param_formula(config: Any) -> int:
    """IA3 trainable parameters from a Llama config: per layer k out + v out + down_proj in.

    ``num_hidden_layers * (2 * num_key_value_heads * head_dim + intermediate_size)``.
    """
    head_dim = getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads
    kv = getattr(config, "num_key_value_heads", None) or config.num_attention_heads
    return config.num_hidden_layers * (2 * kv * head_dim + config.intermediate_size)


def save_weights(model: Any, folder: Path) -> Path:
    """Save what was trained: adapter weights only for peft models, the whole model otherwise."""
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(folder), safe_serialization=True)
    tok = getattr(model, "lmbench_tokenizer", None)
    if tok is not None and getattr(model, "lmbench_method", "") == "full":
        tok.save_pretrained(str(folder))
    return folder
