"""Names used across the package: column names, file names, pair kinds and default paths. The
index's columns are open-metric-learning's dataframe format (``label``, ``path``, ``split``,
``is_query``, ``is_gallery``) and the columns this task needs."""

import re
from pathlib import Path

# --- repository layout -------------------------------------------------------------------------
REPO_ROOT = Path(__file__).resolve().parents[2]
DATA_DIR = REPO_ROOT / "data"
SYNTHETIC_DIR = DATA_DIR / "synthetic"
CACHE_DIR = DATA_DIR / "cache"
RUNS_DIR = REPO_ROOT / "runs"
REPORT_DIR = RUNS_DIR / "report"
PARAMS_DIR = REPO_ROOT / "params"
NOTEBOOKS_DIR = REPO_ROOT / "notebooks"

# --- official data layout ----------------------------------------------------------------------
TRAIN_DIR = "train"
TEST_DIR = "test_public"
META_FILE = "meta.json"
GT_FILE = "gt.csv"
LANDMARKS_FILE = "landmarks.csv"
HOSTS_FILE = "hosts.csv"  # of a generated set: path,host of every fake of train/ (its host's id)
PAIR_IMAGES = ("0.jpg", "1.jpg")
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")
REAL, FAKE = 0, 1  # values of meta.json

# --- index table columns (open-metric-learning's, then ours) -----------------------------------
LABEL = "label"
PATH = "path"
SPLIT = "split"
IS_QUERY = "is_query"
IS_GALLERY = "is_gallery"
IS_FAKE = "is_fake"
IDENTITY = "identity"  # the identity folder name as written on disk
HOST = "host"  # of a fake: the identity on whose photo it was made (index: its label, -1 unknown)
TRAIN, VALID, TEST = "train", "validation", "test"  # splits by identity
LANDMARK_POINTS = ("left_eye", "right_eye", "nose", "mouth_left", "mouth_right")
LANDMARK_COLUMNS = tuple(f"{p}_{axis}" for p in LANDMARK_POINTS for axis in ("x", "y"))
INDEX_COLUMNS = (LABEL, PATH, SPLIT, IS_QUERY, IS_GALLERY, IS_FAKE, IDENTITY, HOST)
INDEX_COLUMNS += LANDMARK_COLUMNS

# --- pairs ---------------------------------------------------------------------------------------
PAIR_ID = "pair_id"
SIMILARITY = "similarity"
PAIR_LABEL = "label"
KIND = "kind"
PATH_A, PATH_B = "path_a", "path_b"
SAME = "same"  # two real photos of one person: label 1
DIFFERENT = "different"  # real photos of two people: label 0
FAKE_SAME = "fake_same"  # a person and a deepfake of that person: label 0
FAKE_OTHER = "fake_other"  # a person and a deepfake of another person: label 0
# a person and a deepfake of another person made on a photo of that person: label 0
FAKE_ON_ANCHOR = "fake_on_anchor"
PAIR_KINDS = (SAME, DIFFERENT, FAKE_SAME, FAKE_OTHER, FAKE_ON_ANCHOR)
NEGATIVE_KINDS = PAIR_KINDS[1:]

# --- run folders ---------------------------------------------------------------------------------
INDEX_FILE = "index.csv"
PAIRS_FILE = "pairs.csv"
METRICS_FILE = "metrics.json"
HISTORY_FILE = "history.csv"
EPOCHS_FILE = "epochs.csv"
BEST_CHECKPOINT = "best.pt"
LAST_CHECKPOINT = "last.pt"
CONFIG_FILE = "config.json"
TEST_METRICS_FILE = "test_metrics.json"  # official EERs on the held-out test pairs
TEST_SUBMISSION_FILE = "test_submission.csv"
RESULTS_FILE = "results.json"  # what a notebook's last cell records (every notebook)
HELDOUT_DIR = "test"  # in a prepared folder: the identity-disjoint test pairs, official layout
SEED_FOLDER = re.compile(r"seed(\d+)")  # <configuration>/seed<k>: one training seed of it

# --- command-line tools --------------------------------------------------------------------------
EXIT_INPUT_ERROR = 2  # exit status of a command given bad input (a file, a value), said by name
