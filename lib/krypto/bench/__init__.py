"""Speed and memory, measured side by side in one run on one machine: ``make bench``.

Command line::

    python -m krypto.bench [--out bench.json] [--quick] [--device auto|cpu|cuda]
        [--backbone small_cnn] [--image-size 48] [--batch P K] [--repeats 3] [--threads N]
        [--jpeg-size N] [--only SECTION ...] [--workdir DIR] [--keep]

Defaults: TrainConfig's backbone, image size and P x K; torch threads = every usable core (on a
machine shared with other jobs, ``--threads 1`` avoids the collapse of oversubscribed OpenMP
threads, which makes 2-thread timings swing several-fold). ``--quick``: a smoke version on tiny
data (32 px, P x K = 8 x 4, 1 repeat).

It writes ``bench.json`` (the machine, the command, every measurement with its unit and each
goal with its measured value and pass/fail), ``bench.md`` (the same as a markdown table, for the
README) and ``bench.txt`` (the printed table) next to each other, and prints the table.

Absolute numbers depend on the machine and on whatever else runs on it; what the benchmark is
for are the *ratios*, each measured side by side (interleaved repeat by repeat) in one process.
One module per measurement, each calling only the trainer's public interface
(:class:`~krypto.learning.train.TrainConfig`, :class:`~krypto.learning.train.Trainer`'s
``fit`` and ``train_step``):

1. :mod:`.training` ``training``: images/s of the real training loop (``Trainer.fit``, its
   per-epoch ``images_per_second``, which excludes validation) against its compute bound (the
   same model class and optimizer doing forward + backward + step on an in-memory float batch of
   the same shape, :class:`.reference.ComputeBound`). Goal >= 0.90.
2. :mod:`.training` ``seed_pipeline``: the seed's pipeline re-implemented as a reference
   (:mod:`.reference`: a PIL Dataset that decodes, resizes and converts every photo on every
   access, a ``DataLoader`` with ``num_workers=0`` over the same P x K batches, a miner looping
   over the batch in Python, the same backbone and loss) against our loop. Goal: ours >= 2x.
3. :mod:`.miner` ``miner``: :func:`krypto.learning.miner.mine_quadruplets` against
   :func:`.reference.python_loop_quadruplets` (on the batch's tensors as the seed did, and on
   Python lists as the best a Python loop can do) at batch 36, 128, 256. Goal >= 50x at 36.
4. :mod:`.inference` ``inference``: images/s of :func:`krypto.challenge.submit.make_submission`
   on a ``test_public`` folder (decode, embed, score) against the model's bare forward on
   in-memory tensors of the same batch size, with what bounds it (decoding alone, the
   submission with and without decoding overlapped). Goal >= 0.85.
5. :mod:`.memory` ``memory``: summed proportional set size (less the imports) of a 2-process
   training run (torchrun, gloo) against a 1-process run, on a data set the size of the
   embedded default: the memory-mapped image cache is shared. Goal <= 1.3x.
6. :mod:`.growth` ``growth``: seconds per epoch and images/s as the data set grows 1x, 4x, 16x;
   the cost per image should stay flat (goal: 16x/1x <= 1.25).

On a CUDA device the same runs with mixed precision; GPU figures are only written when they were
measured on a GPU (``"cuda": null`` otherwise, with a note). The data are synthetic
(:func:`krypto.data.synth.write_dataset`) in a temporary folder, prepared with
:func:`krypto.data.index.prepare`. :mod:`.gpu_check` (``make gpu-check``) is the one-shot check
of everything that runs differently on a GPU.
"""

from krypto.bench.cli import main, run
from krypto.bench.common import SECTIONS, BenchConfig, default_config, quick_config
from krypto.bench.miner import MINER_BATCHES, miner_batch
from krypto.bench.reference import python_loop_quadruplets
from krypto.bench.report import GOALS, evaluate_goals, markdown, text_table, write_outputs

__all__ = [
    "GOALS",
    "MINER_BATCHES",
    "SECTIONS",
    "BenchConfig",
    "default_config",
    "evaluate_goals",
    "main",
    "markdown",
    "miner_batch",
    "python_loop_quadruplets",
    "quick_config",
    "run",
    "text_table",
    "write_outputs",
]
