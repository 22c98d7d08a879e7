"""The one base class of the errors a user can fix.

Bad hparams (`ConfigError`), checkpoints (`CheckpointError`), data
(`PretrainingDataError`, `FinetuningDataError`, `DataPrepError`) and exports
(`ExportError`) all derive from `UserError`. Their message says what is wrong
and what to do; every command line prints it as one `error: ...` line on
stderr and exits with status 2 (`electra_tf.cli.run_main`), with no traceback.
Anything else escaping a command is a bug and keeps its traceback.
"""


class UserError(Exception):
  """An input or setting the user must fix; the message names it."""
