"""Run profiles: the one place where each notebook's parameters per profile are set.

- ``smoke``: CI; seconds per notebook, tiny data; only checks that everything runs.
- ``quick``: the default; a 2-core laptop CPU, minutes for the whole book; real data where present,
  the library's synthetic hierarchies where not.
- ``full``: the papers' settings, meant for a GPU.

A profile sets some of a notebook's parameters (the names in its ``parameters`` cell); the rest keep
the notebook's defaults, and a rerun can override any single parameter (``-p NAME VALUE``).
"""

from __future__ import annotations

PROFILE_NAMES = ("smoke", "quick", "full")
DEFAULT_PROFILE = "quick"

NOTEBOOK_PROFILES: dict[str, dict[str, dict[str, object]]] = {
    "00_what_is_hmc": {
        "smoke": {"n_samples": 300, "depth": 3, "branching": 2},
        "quick": {"n_samples": 3000, "depth": 5, "branching": 3},
        "full": {"n_samples": 20000, "depth": 6, "branching": 3},
    },
    "01_datasets": {
        "smoke": {"benchmarks": ["cellcycle_FUN", "cellcycle_GO"], "images": ["synthetic"]},
        "quick": {"benchmarks": ["all"], "images": ["synthetic", "omniglot", "cifar100", "aircraft"]},
        "full": {"benchmarks": ["all"], "images": ["synthetic", "omniglot", "cifar100", "aircraft"]},
    },
    "02_chmcnn_reproduction": {
        "smoke": {"datasets": ["cellcycle_FUN"], "n_seeds": 2, "epoch_fraction": 0.01},
        "quick": {"datasets": ["cellcycle_FUN", "spo_FUN", "cellcycle_GO", "enron"], "n_seeds": 3,
                  "epoch_fraction": 0.1},
        # full: every benchmark; the CPU runs of the evidence campaign add the GO and other datasets
        "full": {
            "datasets": ["all"],
            "n_seeds": 10,
            "epoch_fraction": 1.0,
        },
    },
    "03_rare_node_loss": {
        "smoke": {"datasets": ["cellcycle_FUN", "spo_FUN"], "n_seeds": 2, "epoch_fraction": 0.01, "max_fit_rows": 200},
        "quick": {"datasets": ["cellcycle_FUN", "spo_FUN", "derisi_FUN"], "n_seeds": 3, "epoch_fraction": 0.01,
                  "n_members": 2},
        "full": {"datasets": ["fun_go"], "n_seeds": 10, "epoch_fraction": 1.0, "n_members": 2},
    },
    "04_ensembles_and_dropout": {
        "smoke": {"datasets": ["cellcycle_FUN"], "n_seeds": 2, "epoch_fraction": 0.01, "ensemble_sizes": [2, 3],
                  "max_fit_rows": 100, "cost_steps": 10},
        # quick: one dataset, one epoch (9 trainings per dataset at H up to 10; see the chapter's deviations)
        "quick": {"datasets": ["cellcycle_FUN"], "n_seeds": 3, "epoch_fraction": 0.01},
        "full": {"datasets": ["fun_go"], "n_seeds": 10, "epoch_fraction": 1.0, "ensemble_sizes": [2, 5, 10]},
    },
    "05_schedules_and_resampling": {
        # smoke: a small synthetic hierarchy (13 methods); quick: two FunCat datasets, one epoch (see the chapter)
        "smoke": {"datasets": ["synthetic"], "n_seeds": 2, "epoch_fraction": 0.05, "synthetic_samples": 600},
        "quick": {"datasets": ["cellcycle_FUN", "spo_FUN"], "n_seeds": 3, "epoch_fraction": 0.01},
        "full": {"datasets": ["fun_go"], "n_seeds": 10, "epoch_fraction": 1.0},
    },
    "06_hcal": {
        # smoke: a tiny synthetic hierarchy at 8 px; quick: the synthetic 3-level hierarchy and 3 Omniglot
        # alphabets x 5 characters at 16 px, 2 epochs (about ten minutes on a 2-core CPU); full: the evidence
        # setting, all of Omniglot at 28 px on a Conv-4 of width 64 (a CPU-sized deviation from the paper's
        # ResNet-18) with a 30-epoch cosine schedule (a deviation from the spec's 500 epochs), evaluated every
        # 5 epochs, 5 seeds, the robustness curve at the last epoch; run a unit at a time by the evidence
        # campaign (about 20 minutes per unit at one thread)
        "smoke": {"datasets": ["synthetic"], "image_size": 8, "synthetic_branching": [2, 2, 2],
                  "synthetic_per_class": 4, "n_seeds": 2, "epochs": 2, "tsne_points": 100},
        "quick": {"datasets": ["synthetic", "omniglot"], "image_size": 16, "synthetic_branching": [3, 2, 2],
                  "synthetic_per_class": 16, "omniglot_alphabets": 3, "omniglot_characters": 5, "n_seeds": 2,
                  "epochs": 2},
        "full": {"datasets": ["omniglot"], "image_size": 28, "omniglot_alphabets": 0, "omniglot_characters": 0,
                 "n_seeds": 5, "epochs": 30, "schedule": "cosine", "backbone": "conv4", "width": 64, "eval_every": 5,
                 "robustness_sigmas": [0.05, 0.1, 0.2], "tsne_points": 500},
    },
    "07_rare_nodes_images": {
        # smoke: the committed Omniglot sample at 12 px, a tiny Conv-4, 1 epoch; quick: 5 evaluation alphabets at
        # 16 px, a 32-channel Conv-4 pretrained 10 epochs on the background alphabets, 10 heads, 10 epochs, batch 32,
        # 2 seeds (about five minutes on a 2-core CPU); full: the spec's vision settings (20 heads, 20 epochs,
        # batch 128, Adam 1e-3, wd 1e-4) on all 20 evaluation alphabets at 28 px, 10 seeds, and CIFAR-100 and
        # FGVC-Aircraft where their files are on disk (ImageNet ResNet-18 when its file is, "auto")
        "smoke": {"datasets": ["omniglot"], "image_size": 12, "omniglot_alphabets": 0, "imbalance": 3.0,
                  "encoder": "conv4", "encoder_width": 8, "pretrain_epochs": 1, "n_heads": 3, "epochs": 1,
                  "batch_size": 32, "degradations": [0.0, 0.5], "fractions": [1.0, 0.5], "n_seeds": 2},
        "quick": {"datasets": ["omniglot"], "image_size": 16, "omniglot_alphabets": 5, "imbalance": 10.0,
                  "encoder": "conv4", "encoder_width": 32, "pretrain_epochs": 10, "n_heads": 10, "epochs": 10,
                  "batch_size": 32, "n_seeds": 2},
        "full": {"datasets": ["omniglot", "cifar100", "aircraft"], "image_size": 28, "omniglot_alphabets": 0,
                 "imbalance": 10.0, "encoder": "auto", "encoder_width": 64, "pretrain_epochs": 30, "n_heads": 20,
                 "epochs": 20, "batch_size": 128, "n_seeds": 10},
    },
    "80_verdicts": {
        # reads the chapters' pages, manifests and results tables; trains nothing, same in every profile
        "smoke": {},
        "quick": {},
        "full": {},
    },
    "90_reproduce": {
        # reads the manifests, the results tables and the executed pages; trains nothing, same in every profile
        "smoke": {},
        "quick": {},
        "full": {},
    },
}


PARAMETER_CHOICES: dict[str, tuple[str, ...]] = {
    "device": ("auto", "cpu", "cuda"),
    "imputation": ("trainvalid", "per_split"),
    "pretrained": ("auto", "yes", "no"),
    "schedule": ("constant", "cosine"),
    "encoder": ("conv4", "resnet18", "auto"),
}
"""The values a string parameter of this name may take, in every notebook that has it (the runner
refuses others before anything executes)."""


def profile_parameters(notebook: str, profile: str) -> dict[str, object]:
    """The parameter values that ``profile`` sets for ``notebook`` (its file stem).

    Raises KeyError with the known names when the notebook or the profile is unknown.
    """
    if profile not in PROFILE_NAMES:
        raise KeyError(f"unknown profile {profile!r}; valid profiles: {', '.join(PROFILE_NAMES)}")
    if notebook not in NOTEBOOK_PROFILES:
        raise KeyError(
            f"notebook {notebook!r} has no profiles in hmc/profiles.py; known: {', '.join(NOTEBOOK_PROFILES)}"
        )
    return dict(NOTEBOOK_PROFILES[notebook][profile])
