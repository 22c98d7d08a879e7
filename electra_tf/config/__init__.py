"""Typed configs with the original's hparam names and defaults (no TensorFlow).

`hparams` (the `HParams` base: validated `update`, JSON I/O, `ConfigError`),
`model` (transformer sizes, `get_bert_config`), `runtime` (devices, precision,
XLA, TPU: shared by pre-training and fine-tuning), `pretraining`
(`PretrainingConfig`).
"""
