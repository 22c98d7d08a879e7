"""Writes text files as TFRecords that ELECTRA can be pre-trained on.

`python build_pretraining_dataset.py --help` lists the flags; the code is in
`electra_cli/build_pretraining_dataset.py` (`pip install .` also installs it as a console script).
"""

import sys

from electra_cli.build_pretraining_dataset import main

if __name__ == "__main__":
  sys.exit(main())
