"""Test set-up: Keras 2, two logical CPUs for distribution tests, shared paths."""

import os
import pathlib
import sys

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402

# Two logical CPU devices let MirroredStrategy tests run with 2 replicas on
# one CPU; this must happen before TensorFlow initialises its devices.
_cpus = tf.config.list_physical_devices("CPU")
tf.config.set_logical_device_configuration(
    _cpus[0], [tf.config.LogicalDeviceConfiguration()] * 2)

VOCAB_FILE = ROOT / "data" / "vocab.txt"
CORPUS_DIR = ROOT / "data" / "corpus"
SENTIMENT_FILE = ROOT / "data" / "sentiment" / "amazonReviewSnippets_GroundTruth.txt"


@pytest.fixture
def vocab_file():
  return str(VOCAB_FILE)
