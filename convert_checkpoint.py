"""Converts ELECTRA checkpoints between the original's TF1 format, electra-tf's
TF2 format and Hugging Face directories.

`python convert_checkpoint.py --help` lists the flags; the code is in
`electra_cli/convert_checkpoint.py` (`pip install .` also installs it as a console script).
"""

import sys

from electra_cli.convert_checkpoint import main

if __name__ == "__main__":
  sys.exit(main())
