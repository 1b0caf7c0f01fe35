"""Entry point: registration only, with lazy targets so that `lmbench list` never imports torch."""

from lmbench import hookimpl


@hookimpl
def lmbench_register_models(registry):
    registry.add("bigram", "lmbench_example.components:BigramLM", summary="character bigram language model")
    registry.add("gru", "lmbench_example.components:GRULanguageModel",
                 summary="GRU language model (a CausalLM: trains under lm.train)")


@hookimpl
def lmbench_register_metrics(registry):
    registry.add("top1", "lmbench_example.components:TopOneAccuracy", summary="next-character top-1 accuracy")
    registry.add("topk", "lmbench_example.components:TopKAccuracy",
                 summary="next-token top-k accuracy (k= in [metrics.\"example.topk\"])")


@hookimpl
def lmbench_register_recipes(registry):
    registry.add("fit", "lmbench_example.components:FitRecipe", summary="fit a model to a text with AdamW")


@hookimpl
def lmbench_register_presets(registry):
    registry.add("demo", {
        "description": "fit the bigram model to a pangram",
        "model": {"name": "example.bigram"},
        "metrics": {"name": ["example.top1"]},
        "recipe": {"name": "example.fit", "steps": 60},
    }, summary="fit the bigram model to a pangram")
