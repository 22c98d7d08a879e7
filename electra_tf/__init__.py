"""electra-tf: a TensorFlow 2 / Keras reimplementation of Google's ELECTRA.

Importing this package only sets two environment defaults, before TensorFlow is
imported anywhere: Keras 2 (`tf_keras`) as the Keras behind `tf.keras`, because
TF 2.16+ defaults to Keras 3 and a Keras 3 layer inside a tf_keras model is
silently untracked; and quieter TensorFlow start-up logging.
"""

import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

__version__ = "0.1.0"
