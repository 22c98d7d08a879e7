"""The command lines: one module per command, each with `main(argv=None) -> int`.

The repository's top-level scripts (`python run_pretraining.py ...`, the
original's command lines) and the console scripts `pip install .` creates
(`electra-pretrain`, ...) both run these. Each parses flags, checks them, and
calls the library (`finetune`, `data_prep`, `electra_tf`); user errors end as
one `error: ...` line on stderr and exit status 2 (`electra_tf.cli.run_main`).
Importing this package makes TensorFlow's start-up quiet on CPU-only machines
(`electra_tf.cli.quiet_cpu_only_startup`), for every command.
"""

# Importing electra_tf sets TF_USE_LEGACY_KERAS before TensorFlow loads.
from electra_tf import cli as _cli

_cli.quiet_cpu_only_startup()
