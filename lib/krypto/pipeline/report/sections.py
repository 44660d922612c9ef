"""What the report reads: which run of ``params/readme.yaml`` feeds which section of the README,
the figures each section shows, and the row names of the batch files the prose and the
findings refer to."""

from __future__ import annotations

from dataclasses import dataclass, field

BATCH_FILE = "params/readme.yaml"
BATCH_COMMAND = f"python -m krypto.pipeline.batch {BATCH_FILE}"
REPORT_COMMAND = "python -m krypto.pipeline.report"
FIGURES_DIR = "figures"  # <out>/figures/: the copies of the figures the README shows

# Row names of the batch files (the keys of `train_runs` of their compare runs, params/*.yaml).
TRIPLET, TRIPLET_FAKE = "triplet", "triplet + fake"  # loss_selection.yaml
LAMBDAS = ("0.01", "0.1", "1")  # lambda.yaml, lam growing
COS_HEAD = "1 + cos head"  # lambda.yaml
NO_CUTOUT = "no cutout"  # cutout.yaml
SEED_RECIPE = "seed: triplet + fake (lam 1)"  # beyond.yaml, portrait.yaml, eigenfaces.yaml

# The comparisons of methods, one per data set: the section key -> the data set in words. The
# first is the embedded set; the others were drawn by renderers other than krypto.synth.
METHOD_SECTIONS = {
    "beyond": "the embedded synthetic set (krypto.synth)",
    "portrait": "PIL portraits with pasted-face fakes (krypto.data.renderers.portrait)",
    "eigenfaces": "shaded eigenfaces with generator-made fakes (krypto.data.renderers.eigenfaces)",
}

# The sections whose tables are training configurations over seeds (06/05 runs), and the row each
# of the others is tested against (krypto.evaluation.verdicts) where one is the natural baseline.
TRAINING_SECTIONS = ("loss_selection", "model_selection", "lambda", "cutout", *METHOD_SECTIONS)
REFERENCES = {
    "loss_selection": TRIPLET,
    "lambda": LAMBDAS[-1],
    "cutout": NO_CUTOUT,
    **{key: SEED_RECIPE for key in METHOD_SECTIONS},
}


@dataclass(frozen=True)
class Section:
    key: str  # key in results.json "sections"
    title: str
    batch: str  # runs/<batch>/<run>
    run: str
    figures: dict[str, tuple[str, str]] = field(default_factory=dict)  # role -> (file, copy name)

    @property
    def full_name(self) -> str:
        return f"{self.batch}/{self.run}"


SECTIONS = (
    Section(
        "data",
        "Data set",
        "readme",
        "preprocess",
        {"contact_sheet": ("contact_sheet.png", "data_contact_sheet.png")},
    ),
    Section("loss_selection", "Loss selection", "loss_selection", "compare"),
    Section(
        "distances",
        "Distances",
        "loss_selection",
        "distances",
        {
            "distance_curves": ("distance_curves.png", "loss_selection_distance_curves.png"),
            "similarity_histograms": (
                "similarity_histograms.png",
                "loss_selection_similarity_histograms.png",
            ),
        },
    ),
    Section(
        "embeddings",
        "Embeddings",
        "loss_selection",
        "pca",
        {"pca": ("pca_real_fake.png", "loss_selection_pca_real_fake.png")},
    ),
    Section(
        "model_selection",
        "Model selection",
        "model_selection",
        "compare",
        {
            "eer_real_per_epoch": (
                "eer_real_per_epoch.png",
                "model_selection_eer_real_per_epoch.png",
            ),
            "eer_fake_per_epoch": (
                "eer_fake_per_epoch.png",
                "model_selection_eer_fake_per_epoch.png",
            ),
        },
    ),
    Section("lambda", "Lambda", "lambda", "compare"),
    Section(
        "cutout",
        "Cutout",
        "cutout",
        "ablation",
        {
            "examples": ("cutout_examples.png", "cutout_examples.png"),
            "eer": ("cutout_eer.png", "cutout_eer.png"),
            "eer_fake_per_epoch": (
                "cutout_eer_fake_per_epoch.png",
                "cutout_eer_fake_per_epoch.png",
            ),
        },
    ),
    Section("beyond", "Beyond the seed", "beyond", "compare"),
    Section("portrait", "Beyond the seed on portraits", "portrait", "compare"),
    Section("eigenfaces", "Beyond the seed on eigenfaces", "eigenfaces", "compare"),
)

SECTIONS_BY_KEY = {section.key: section for section in SECTIONS}


def train_refs(parameters: dict) -> dict[str, str]:
    """The training runs a notebook's parameters name (``train_runs`` or ``train_run``):
    row name -> run reference (``batch/run``)."""
    refs = parameters.get("train_runs")
    if isinstance(refs, dict):
        return {str(k): str(v) for k, v in refs.items()}
    if isinstance(refs, (list, tuple)):
        return {str(v): str(v) for v in refs}
    if parameters.get("train_run"):
        return {"train_run": str(parameters["train_run"])}
    return {}
