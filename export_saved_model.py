"""Exports a fine-tuned task model or a pre-trained discriminator as a SavedModel.

`python export_saved_model.py --help` lists the flags; the code is in
`electra_cli/export_saved_model.py` (`pip install .` also installs it as a console script).
"""

import sys

from electra_cli.export_saved_model import main

if __name__ == "__main__":
  sys.exit(main())
