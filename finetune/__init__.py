"""Fine-tuning ELECTRA: task families, the task registry, the runner."""

import electra_tf  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow loads)
