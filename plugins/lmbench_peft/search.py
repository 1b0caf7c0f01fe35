"""``peft.search``: an Optuna (TPE) search over sampling parameters maximising chrF++.

Each trial samples ``temperature``, ``top_k``, ``top_p``, ``repetition_penalty`` and
``no_repeat_ngram_size`` from the configured ranges, generates a poem for each of ``n_prompts``
prompts of the dataset's validation split (the same seeded subset in every trial) and scores
corpus chrF++ against the real poems. The best trial's score (``val_chrf_pp``) is optimistic: it
is the maximum over trials on the prompts that chose it. The chosen configuration is therefore
scored once more on the held-out test split (``test_chrf_pp``, also ``chrf_pp``), with greedy
decoding on the same test poems as the reference point (``greedy_test_chrf_pp``). The study lives
in ``sqlite:///<store folder>/optuna.sqlite`` under a name derived from the run id, so rerunning the
same spec resumes it (finished trials count toward ``n_trials``). Every trial goes to the
``trials`` table. The model is the spec's ``[model]``: the base alone (``peft.base``), an adapter
saved by ``peft.train`` (``model.adapter=...``), or a fully fine-tuned model (``model.base=...``).
"""

from __future__ import annotations

import logging
import math
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lmbench import LmbenchError, Run

from .contracts import SEARCH_REQUIRES
from .evaluate import sample_poems
from .metrics import prefix_ceiling
from .train import sampling_from

log = logging.getLogger("lmbench.peft")


@dataclass
class SearchConfig:
    """Options of ``peft.search``: trial count, prompts per trial and the search space."""

    n_trials: int = 20
    n_prompts: int = 8  # validation prompts per trial (selection)
    n_test_prompts: int = 0  # test poems scored with the chosen configuration (0 = the whole test split)
    study_name: str = ""  # default: peft-search-<run id>
    # the space holds seed 003's best (top_k 10, top_p 0.95, repetition_penalty 0.9, temperature 14.4);
    # temperature is searched on a log scale
    temperature: list[float] = field(default_factory=lambda: [0.3, 16.0])
    top_k: list[int] = field(default_factory=lambda: [0, 100])
    top_p: list[float] = field(default_factory=lambda: [0.5, 1.0])
    repetition_penalty: list[float] = field(default_factory=lambda: [0.8, 1.5])
    no_repeat_ngram_size: list[int] = field(default_factory=lambda: [0, 4])
    max_new_tokens: int = 400
    baseline: bool = True  # also score greedy decoding on the same prompts

    def __post_init__(self) -> None:
        if self.n_trials < 1 or self.n_prompts < 1:
            raise ValueError("n_trials and n_prompts must be >= 1")
        if self.n_test_prompts < 0:
            raise ValueError("n_test_prompts must be >= 0 (0 = the whole test split)")
        for name in ("temperature", "top_k", "top_p", "repetition_penalty", "no_repeat_ngram_size"):
            low_high = getattr(self, name)
            if len(low_high) != 2 or low_high[0] > low_high[1]:
                raise ValueError(f"{name} must be [low, high] with low <= high")


def storage_url(root: Path, store: Any = None) -> str:
    """The results store's database when it is a server (so a search runs on many nodes), else
    ``sqlite:///<root>/optuna.sqlite`` (absolute path)."""
    server = store.optuna_url() if store is not None and hasattr(store, "optuna_url") else None
    if server:
        return server
    root.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{(root / 'optuna.sqlite').resolve()}"


def selection_prompts(data: Any, n_prompts: int, n_test_prompts: int, seed: int) -> tuple[list, list]:
    """(validation prompts that choose the configuration, test poems that score it); never overlapping.

    A poem set without a test split is a one-line error: the score of the chosen configuration
    must come from poems that took no part in choosing it.
    """
    test = list(getattr(data, "test", []))
    if not test:
        raise LmbenchError("peft.search scores the chosen sampling on the held-out test split, which is empty: "
                           "set dataset.test_fraction above 0")
    val = random.Random(seed).sample(data.val, min(n_prompts, len(data.val)))
    return val, test[:n_test_prompts] if n_test_prompts else test


class Search:
    """``peft.search``: Optuna TPE over sampling parameters; chosen on validation, scored on test."""

    Config = SearchConfig
    requires = SEARCH_REQUIRES

    def __init__(self, config: SearchConfig):
        self.config = config

    def suggest(self, trial: Any) -> dict[str, Any]:
        """One point of the search space."""
        c = self.config
        return {"temperature": trial.suggest_float("temperature", *c.temperature, log=c.temperature[0] > 0),
                "top_k": trial.suggest_int("top_k", *c.top_k),
                "top_p": trial.suggest_float("top_p", *c.top_p),
                "repetition_penalty": trial.suggest_float("repetition_penalty", *c.repetition_penalty),
                "no_repeat_ngram_size": trial.suggest_int("no_repeat_ngram_size", *c.no_repeat_ngram_size)}

    def run(self, run: Run) -> dict[str, Any]:
        """Run (or resume) the study on validation prompts; return the chosen sampling and its test chrF++."""
        try:
            import optuna
        except ImportError as exc:
            raise LmbenchError("peft.search needs optuna: pip install 'lmbench[peft]'") from exc
        cfg = self.config
        model = run.build("model", device=run.device, seed=run.seed)
        tok = model.lmbench_tokenizer
        data = run.build("dataset", tokenizer=tok)
        prompts, test_prompts = selection_prompts(data, cfg.n_prompts, cfg.n_test_prompts, run.seed)
        marker = data.config.marker
        root = run.shared_dir
        name = cfg.study_name or f"peft-search-{run.id}"
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        study = optuna.create_study(study_name=name, storage=storage_url(root, run.store), direction="maximize",
                                    sampler=optuna.samplers.TPESampler(seed=run.seed), load_if_exists=True)
        done = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
        remaining = max(0, cfg.n_trials - len(done))
        if done:
            run.info("resuming study %s: %d trials done, %d to go", name, len(done), remaining)

        def objective(trial: Any) -> float:
            params = self.suggest(trial)
            sampling = sampling_from(params, strategy="sample", max_new_tokens=cfg.max_new_tokens)
            scores, _ = sample_poems(model, tok, prompts, sampling, marker=marker, seed=run.seed, device=run.device)
            for key, value in scores.items():
                trial.set_user_attr(key, value)
            run.log(trial.number, chrf_pp=scores["chrf_pp"], gen_tokens_per_s=scores["gen_tokens_per_s"])
            return scores["chrf_pp"]

        for _ in range(remaining):
            if run.should_stop():
                break
            study.optimize(objective, n_trials=1)
        trials = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
        if not trials:
            raise LmbenchError("no trial finished; raise run.timeout or lower recipe.n_prompts/max_new_tokens")
        rows = [{"trial": t.number, "chrf_pp": t.value, **t.params,
                 **{k: t.user_attrs.get(k) for k in ("chrf", "chrf_pp_mean", "gen_tokens_per_s", "ttft_ms")}}
                for t in trials]
        run.record("trials", {"rows": rows})
        best = study.best_trial
        results: dict[str, Any] = {"val_chrf_pp": best.value, "best_trial": best.number, "n_trials": len(trials),
                                   "n_prompts": len(prompts), "n_test_prompts": len(test_prompts),
                                   "study_name": name, **{f"best_{k}": v for k, v in best.params.items()}}
        run.record("best_sampling", {**best.params, "strategy": "sample", "max_new_tokens": cfg.max_new_tokens})
        best_sampling = sampling_from(best.params, strategy="sample", max_new_tokens=cfg.max_new_tokens)
        best_texts: list[str] = []
        scores, samples = sample_poems(model, tok, test_prompts, best_sampling, marker=marker, seed=run.seed,
                                       device=run.device, texts_out=best_texts)
        refs = [e.text for e in test_prompts]
        if refs:  # what a perfect generator of max_new_tokens tokens would score: the ceiling beside the score
            results["test_chrf_pp_ceiling"] = prefix_ceiling(
                refs, lambda text: tok(text, add_special_tokens=False)["input_ids"],
                lambda ids: tok.decode(ids, skip_special_tokens=True), cfg.max_new_tokens)
        per_example: dict[str, Any] = {"test_chrf_pp": {"hypotheses": best_texts, "references": refs}}
        run.record("samples", {"rows": samples})
        results.update({"test_chrf_pp": scores["chrf_pp"], "chrf_pp": scores["chrf_pp"],
                        "test_chrf": scores["chrf"], "test_chrf_pp_mean": scores["chrf_pp_mean"],
                        **{k: scores.get(k, math.nan) for k in ("ttft_ms", "per_token_ms", "gen_tokens_per_s")}})
        if cfg.baseline:
            greedy = sampling_from({}, strategy="greedy", max_new_tokens=cfg.max_new_tokens, repetition_penalty=1.0)
            greedy_texts: list[str] = []
            scores, _ = sample_poems(model, tok, test_prompts, greedy, marker=marker, seed=run.seed, device=run.device,
                                     texts_out=greedy_texts)
            results["greedy_test_chrf_pp"] = scores["chrf_pp"]
            per_example["greedy_test_chrf_pp"] = {"hypotheses": greedy_texts, "references": refs}
            from lmbench import chrf_paired_pvalue

            if refs and len(greedy_texts) == len(best_texts) == len(refs):
                # the selected sampling against greedy decoding: one set of weights, so a per-example test
                results["best_vs_greedy_p"] = chrf_paired_pvalue(greedy_texts, best_texts, refs)[2]
        if refs and len(best_texts) == len(refs):
            run.record_per_example(per_example, weights=model)  # searches of one model pair by poem in compare
        return results
