"""Pre-trains (or evaluates) an ELECTRA model: the original's command line.

`python run_pretraining.py --help` lists the flags; the code is in
`electra_cli/run_pretraining.py` (`pip install .` also installs it as a console script).
"""

import sys

from electra_cli.run_pretraining import main

if __name__ == "__main__":
  sys.exit(main())
