"""Every notebook runs end to end through papermill on tiny data; notebooks are committed clean."""

import json
import shutil

import nbformat
import papermill as pm
import pytest

from krypto import constants as C
from krypto.pipeline.after_training import train_and_finish
from krypto.run_folder import read_config, read_results

NOTEBOOKS = sorted(C.NOTEBOOKS_DIR.glob("*.ipynb"))
TINY_TRAIN = dict(epochs=1, P=4, K=4, image_size=32, val_ratio=0.25)


def _run(name, out_dir, cwd=C.REPO_ROOT, **parameters):
    out_dir.mkdir(parents=True, exist_ok=True)
    pm.execute_notebook(
        str(C.NOTEBOOKS_DIR / name),
        str(out_dir / name),
        parameters=parameters,
        cwd=str(cwd),
        kernel_name="python3",
        progress_bar=False,
    )


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_committed_clean(notebook):
    nb = nbformat.read(notebook, as_version=4)
    assert nb.metadata["kernelspec"]["name"] == "python3"
    assert nb.metadata["language_info"]["name"] == "python"
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert not any(c.outputs or c.execution_count for c in code), "outputs committed"
    tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1, "exactly one cell tagged 'parameters'"
    assert "run_dir" in pm.inspect_notebook(str(notebook))


@pytest.fixture(scope="module")
def trained(tiny_data, tmp_path_factory):
    """02_train through papermill (the fake-aware loss), and a plain triplet run beside it."""
    root = tmp_path_factory.mktemp("notebooks")
    quad = root / "quadruplet"
    _run(
        "02_train.ipynb",
        root,
        data_dir=str(tiny_data),
        run_dir=str(quad),
        loss="quadruplet",
        **TINY_TRAIN,
    )
    trip = root / "triplet"
    train_and_finish(
        data_dir=str(tiny_data), run_dir=str(trip), loss="triplet", progress=False, **TINY_TRAIN
    )
    return root, quad, trip


@pytest.mark.slow
def test_01_preprocess(tiny_data, tmp_path):
    run = tmp_path / "prep"
    _run(
        "01_preprocess.ipynb",
        tmp_path,
        data_dir=str(tiny_data),
        run_dir=str(run),
        pairs_per_kind=20,
    )
    index = run / C.INDEX_FILE
    import pandas as pd

    frame = pd.read_csv(index)
    meta = json.loads((tiny_data / "train/meta.json").read_text())
    assert len(frame) == len(meta)
    assert {C.LABEL, C.PATH, C.SPLIT, C.IS_FAKE} <= set(frame.columns)
    for name in ("summary.csv", "contact_sheet.png", "val/gt.csv", "results.json"):
        assert (run / name).is_file(), name
    assert read_results(run)["n_photos"] == len(meta)


@pytest.mark.slow
def test_02_train(trained):
    _, quad, _ = trained
    metrics = json.loads((quad / C.METRICS_FILE).read_text())
    assert read_config(quad)["loss"] == "quadruplet" and metrics["epochs_run"] == 1
    for name in ("history.csv", "epochs.csv", "best.pt", "training_curves.png", "fn_fp_curve.png"):
        assert (quad / name).is_file(), name
    assert read_results(quad)["eer"] == metrics["eer"]


@pytest.mark.slow
def test_02_train_twice_with_other_parameters_keeps_both_runs(tmp_path, monkeypatch):
    """The usage of the README, twice: the default run folder depends on the parameters that
    differ from the defaults, so the second run neither fails nor replaces the first."""
    monkeypatch.setenv("KRYPTO_RUNS_DIR", str(tmp_path / "runs"))
    for lam in (0.1, 0.01):
        _run(
            "02_train.ipynb",
            tmp_path / f"out-{lam}",
            cwd=C.NOTEBOOKS_DIR,
            lam=lam,
            epochs=1,
            data_dir="synthetic:tiny",
        )
    folders = sorted(p.name for p in (tmp_path / "runs" / "train").iterdir())
    assert folders == [
        "small_cnn-quadruplet-data_dir=synthetic_tiny-epochs=1-lam=0.01",
        "small_cnn-quadruplet-data_dir=synthetic_tiny-epochs=1-lam=0.1",
    ]
    for name in folders:
        config = read_config(tmp_path / "runs" / "train" / name)
        assert str(config["lam"]) in name


@pytest.mark.slow
def test_02_train_bad_parameter_stops_at_once(tiny_data, tmp_path):
    with pytest.raises(pm.PapermillExecutionError, match="backbone"):
        _run(
            "02_train.ipynb",
            tmp_path,
            data_dir=str(tiny_data),
            run_dir=str(tmp_path / "bad"),
            backbone="resnet9000",
        )


@pytest.mark.slow
def test_03_04_05_06(trained):
    root, quad, trip = trained
    runs = {"triplet": str(trip), "triplet + fake": str(quad)}
    _run("03_distances.ipynb", root, train_runs=runs, run_dir=str(root / "dist"))
    assert (root / "dist/distance_curves.png").is_file()
    assert set(read_results(root / "dist")["table"]) == set(runs)
    _run("04_embeddings_pca.ipynb", root, train_run=str(quad), run_dir=str(root / "pca"))
    table = read_results(root / "pca")["table"]
    assert set(table) == {"before training", "after training"}
    _run(
        "05_cutout_ablation.ipynb",
        root,
        run_dir=str(root / "cutout"),
        train_runs={"eyes": str(trip), "no cutout": str(quad)},
    )
    assert (root / "cutout/cutout_examples.png").is_file()
    assert set(read_results(root / "cutout")["table"]) == {"eyes", "no cutout"}


@pytest.mark.slow
def test_notebook_runs_the_same_from_the_notebooks_folder(trained):
    """JupyterLab runs a notebook in its own folder: relative paths still mean the repo root."""
    _, quad, trip = trained
    relative = "runs/_pytest_cwd/compare"
    (C.REPO_ROOT / "runs/_pytest_cwd").mkdir(parents=True, exist_ok=True)
    try:
        _run(
            "06_compare_runs.ipynb",
            C.REPO_ROOT / "runs/_pytest_cwd",
            cwd=C.NOTEBOOKS_DIR,
            run_dir=relative,
            train_runs={"a": str(trip), "b": str(quad)},
        )
        assert (C.REPO_ROOT / relative / "eer_real_per_epoch.png").is_file()
        assert read_results(C.REPO_ROOT / relative)["best"] in ("a", "b")
    finally:
        shutil.rmtree(C.REPO_ROOT / "runs/_pytest_cwd", ignore_errors=True)
