"""``make gpu-check`` (``python -m krypto.bench.gpu_check --help``): every check of
:mod:`.gpu_paths` and the benchmark on ``--device``, each recorded with its figures or its error
(a failure never stops the others) in one JSON file; ``--device cpu`` is the dry run the tests run.
"""

from __future__ import annotations

import sys
import tempfile
import time
import traceback
from dataclasses import replace
from pathlib import Path

import torch
import yaml

from krypto import constants as C
from krypto.bench.cli import run as run_bench
from krypto.bench.common import SPEC, default_config, machine_info, parser, quick_config
from krypto.bench.gpu_paths import (
    TINY,
    check_collectives,
    check_export,
    check_resume,
    check_submission,
    check_torchrun,
    collectives_child,
    train_check,
)
from krypto.data.index import prepare, resolve_data_dir
from krypto.files import write_json
from krypto.learning.config import TrainConfig

COMBINATION_KEYS = ("loss", "head", "fakes_as_class", "mining")
RECIPE_BACKBONES = ("ir50", "iresnet50")
RECIPE = dict(
    align=True,
    landmarks="mtcnn",
    optimizer="adamw",
    warmup_epochs=1,
    schedule="cosine",
    epochs=2,
    fake_head=1.0,
    mining="hard",
)
TRAIN_NOTEBOOK = "notebooks/02_train.ipynb"


def combinations(params_dir: Path = C.REPO_ROOT / "params") -> list[dict]:
    """The distinct (loss, head, fakes_as_class, mining) of the runs of ``params/*.yaml``."""
    found = set()
    for file in sorted(params_dir.glob("*.yaml")):
        spec = yaml.safe_load(file.read_text()) or {}
        base = (spec.get("base") or {}).get(TRAIN_NOTEBOOK, {})
        for run in (spec.get("runs") or {}).values():
            if isinstance(run, dict) and run.get("notebook") == TRAIN_NOTEBOOK:
                config = TrainConfig.from_dict({**base, **(run.get("parameters") or {})})
                found.add(tuple(getattr(config, k) for k in COMBINATION_KEYS))
    return [dict(zip(COMBINATION_KEYS, combo)) for combo in sorted(found, key=str)]


def _label(combo: dict) -> str:
    return "train[" + ",".join(f"{k}={v}" for k, v in combo.items()) + "]"


class Checks:
    """Runs named checks, recording each one's result or error; never stops at a failure."""

    def __init__(self, log=print):
        self.results: list[dict] = []
        self.log = log

    def run(self, name: str, fn) -> dict | None:
        t0 = time.perf_counter()
        entry = {"name": name, "passed": False}
        try:
            entry["details"] = fn() or {}
            entry["passed"] = True
        except Exception as error:  # recorded, and the next check runs
            lines = traceback.format_exception(type(error), error, error.__traceback__)
            entry["error"] = f"{type(error).__name__}: {error}"
            entry["traceback"] = "".join(lines)[-4000:]
        entry["seconds"] = round(time.perf_counter() - t0, 2)
        self.results.append(entry)
        self.log(
            f"  {'PASS' if entry['passed'] else 'FAIL'}  {name} ({entry['seconds']} s)"
            + ("" if entry["passed"] else f": {entry['error']}")
        )
        return entry.get("details") if entry["passed"] else None


def environment(device: str) -> dict:
    info = {
        "torch": torch.__version__,
        "device": device,
        "cuda_available": torch.cuda.is_available(),
        "gpus": [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())],
        "cuda": torch.version.cuda,
        "cudnn": torch.backends.cudnn.version() if torch.cuda.is_available() else None,
        "nccl_available": torch.distributed.is_nccl_available(),
        "gloo_available": torch.distributed.is_gloo_available(),
    }
    try:
        import onnxruntime

        info["onnxruntime"] = onnxruntime.__version__
        info["onnxruntime_providers"] = onnxruntime.get_available_providers()
    except ImportError:
        info["onnxruntime"] = None
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError(f"--device {device} but CUDA is not available here")
    return info


def check_bench(device: str, workdir: Path, quick: bool) -> dict:
    if quick:  # the dry run: the same code, on the quickest section
        cfg = quick_config(device=device, sections=("miner",), miner_seconds=0.005)
    else:
        cfg = default_config(
            device=device, repeats=3, sections=("training", "seed_pipeline", "miner", "inference")
        )
    report = run_bench(cfg, workdir, log=lambda text: None)
    kind = "cuda" if device.startswith("cuda") else "cpu"
    return {"results": report[kind], "goals": report["goals"]}


def recipe_checks(checks: Checks, base: TrainConfig, root: Path, workdir: Path, device: str):
    """The recipe of params/challenge.yaml: published face backbones at 112 px on aligned crops
    (landmarks by MTCNN on the device), AdamW with a warm-up, then a submission; on a CPU (the
    dry run) the same steps with the small model at the tiny size."""
    cuda, held = device.startswith("cuda"), {}

    def aligned() -> dict:
        held["aligned"] = prepare(
            root,
            out_dir=workdir / "prepared-aligned",
            val_ratio=TINY["val_ratio"],
            landmarks=RECIPE["landmarks"],
            align=True,
            device=device,
            progress=False,
        )
        return {"photos": len(held["aligned"].index)}

    checks.run("alignment[MTCNN on the device]", aligned)
    sizes = {"image_size": 112} if cuda else {}
    for backbone in RECIPE_BACKBONES if cuda else ("small_cnn",):
        run_dir = workdir / "runs" / f"recipe-{backbone}"
        recipe = replace(base, run_dir=str(run_dir), **{**RECIPE, "backbone": backbone, **sizes})
        train = lambda c=recipe: train_check(c, held.get("aligned"))  # noqa: E731
        if checks.run(f"recipe[{backbone}]", train):
            checks.run(
                f"recipe[{backbone}] submission",
                lambda r=run_dir: check_submission(r, root / C.TEST_DIR, device, r / "sub.csv"),
            )


def gpu_check(
    device: str = "cuda",
    data: str = "synthetic:tiny",
    workdir: Path | None = None,
    bench: bool = True,
    log=print,
) -> dict:
    """Run every check; returns the report (see the module docstring)."""
    workdir = Path(workdir or tempfile.mkdtemp(prefix="krypto-gpu-check-"))
    cuda = device.startswith("cuda")
    checks = Checks(log)
    started = time.perf_counter()
    checks.run("environment", lambda: environment(device))
    held: dict = {}

    def data_set() -> dict:
        held["root"] = resolve_data_dir(data)
        held["prepared"] = prepare(
            held["root"],
            out_dir=workdir / "prepared",
            val_ratio=TINY["val_ratio"],
            pairs_per_kind=50,
            progress=False,
        )
        return {"root": str(held["root"]), "photos": len(held["prepared"].index)}

    if checks.run("data", data_set) is None:  # nothing else can run: say so, check by check
        held["root"], held["prepared"] = Path(str(data)), None
    root, prepared = held["root"], held["prepared"]
    base = TrainConfig(data_dir=str(root), device=device, overwrite=True, **TINY)
    trained = None
    for combo in combinations():
        run_dir = workdir / "runs" / _label(combo)[6:-1].replace(",", "-")
        config = replace(base, run_dir=str(run_dir), **combo)
        if checks.run(_label(combo), lambda c=config: train_check(c, prepared)) and trained is None:
            trained = run_dir
    checks.run(
        "resume", lambda: check_resume(replace(base, overwrite=False), prepared, workdir / "resume")
    )

    recipe_checks(checks, base, root, workdir, device)

    def needs_run():
        if trained is None:
            raise RuntimeError("no training run finished: nothing to submit or export")
        return trained

    checks.run(
        "submission",
        lambda: check_submission(
            needs_run(), root / C.TEST_DIR, device, workdir / "submission.csv"
        ),
    )
    checks.run("export", lambda: check_export(needs_run(), workdir / "model.onnx", device))
    n = min(2, torch.cuda.device_count()) if cuda else 2
    checks.run(
        f"torchrun[{n} process(es)]", lambda: check_torchrun(root, workdir, device, max(1, n))
    )
    if n <= 1:  # one GPU: torchrun's single process has no process group; NCCL alone then
        checks.run("collectives[1 process]", lambda: check_collectives(workdir, device))
    if bench:
        checks.run("bench", lambda: check_bench(device, workdir / "bench", quick=not cuda))
    results = checks.results
    return {
        "device": device,
        "date": time.strftime("%Y-%m-%d %H:%M:%S %z"),
        "machine": machine_info(torch.get_num_threads()),
        "data": str(root),
        "passed": sum(r["passed"] for r in results),
        "failed": [r["name"] for r in results if not r["passed"]],
        "seconds": round(time.perf_counter() - started, 1),
        "checks": results,
        "figures": {r["name"]: _figures(r) for r in results if r["passed"]},
    }


def _figures(result: dict) -> dict:
    """The numbers of a check worth reading at a glance (speeds, differences)."""
    details = result.get("details") or {}
    if result["name"] == "bench":
        return {k: v for k, v in details["results"].items() if k != "section_seconds"}
    return {
        k: v for k, v in details.items() if isinstance(v, (int, float)) and not isinstance(v, bool)
    }


def main(argv: list[str] | None = None) -> int:
    args = parser(SPEC["gpu_check"]["cli"]).parse_args(argv)
    args.out = args.out or str(C.REPORT_DIR / "gpu_check.json")
    if args.collectives_child:
        collectives_child(args.collectives_child, args.device)
        return 0
    print(f"gpu check on {args.device}", flush=True)
    report = gpu_check(
        args.device,
        args.data,
        args.workdir,
        bench=not args.no_bench,
        log=lambda text: print(text, flush=True),
    )
    write_json(args.out, report, default=str)
    print(
        f"wrote {args.out}: {report['passed']} passed, {len(report['failed'])} failed "
        f"({report['seconds']:.0f} s)" + (f": {report['failed']}" if report["failed"] else "")
    )
    return 0 if not report["failed"] else 1


if __name__ == "__main__":
    sys.exit(main())
