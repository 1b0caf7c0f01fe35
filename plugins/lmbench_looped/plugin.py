"""Entry point of the `looped` plugin: registers its components (lazily, without importing torch)."""

from lmbench import hookimpl

from .results import lmbench_register_results  # noqa: F401  (the lab's declared results)
from .figures import lmbench_report_figures  # noqa: F401  (the lab's report figures)


@hookimpl
def lmbench_register_datasets(registry):
    """In-context regression tasks, sampled on the fly."""
    registry.add("linreg", "lmbench_looped.tasks:RegressionTask",
                 summary="in-context linear regression prompts (x ~ N(0,I), y = w.x), seeded, with curriculum")
    registry.add("sparse_linreg", "lmbench_looped.tasks:SparseLinReg", summary="in-context sparse linear regression")
    registry.add("relu_net", "lmbench_looped.tasks:ReluNetRegression", summary="in-context two-layer ReLU net regression")
    registry.add("decision_tree", "lmbench_looped.tasks:DecisionTreeRegression",
                 summary="in-context depth-4 decision tree regression")


@hookimpl
def lmbench_register_models(registry):
    """Vanilla, universal and looped transformers over vector tokens."""
    registry.add("gpt2", "lmbench_looped.models.gpt2:GPT2Regressor",
                 summary="GPT-2 stack of L distinct blocks with linear read-in/read-out (vanilla baseline)")
    registry.add("universal", "lmbench_looped.models.universal:UniversalTransformer",
                 summary="one shared block applied L times (Universal Transformer)")
    registry.add("looped", "lmbench_looped.models.looped:LoopedTransformer",
                 summary="looped transformer: shared block x b loops, input injection, backprop through last T")
    registry.add("chained", "lmbench_looped.models.chained:ChainedLooped",
                 summary="A->B: block A looped loops_a times, then a second block B looped the other b - loops_a")


@hookimpl
def lmbench_register_recipes(registry):
    """Training and evaluation against the exact baselines."""
    registry.add("train", "lmbench_looped.train:LoopedTrain",
                 summary="train on in-context regression; error vs examples and loops, with exact baselines")


@hookimpl
def lmbench_register_presets(registry):
    """Ready experiments: the CPU comparison and the paper setting."""
    registry.add("compare", "lmbench_looped.presets:COMPARE",
                 summary="d=4 on CPU: gpt2 vs universal vs looped, with least squares / ridge / kNN / averaging")
    registry.add("loops", "lmbench_looped.presets:LOOPS",
                 summary="d=4 on CPU: looped b=8 T=5 at fixed b vs the loop curriculum 5->8 vs the A->B chain")
    registry.add("paper", "lmbench_looped.presets:PAPER",
                 summary="Yang et al. 2023 linear regression (GPU): d=20, n=41, b=30, T=15 (their script), loops "
                         "15->30 (+2/500 steps), LayerNorm in each loop, batch 64, vs 12-layer gpt2")
