"""Corpus -> TFRecords for ELECTRA pre-training, and WordPiece vocabularies.

Importing `electra_tf` first sets the Keras 2 and logging defaults before any
module here imports TensorFlow (they do so lazily, so command lines can check
their inputs before the slow import).
"""

import electra_tf  # noqa: F401  (environment defaults)
