"""Fine-tunes (and evaluates) an ELECTRA model: the original's command line.

`python run_finetuning.py --help` lists the flags; the code is in
`electra_cli/run_finetuning.py` (`pip install .` also installs it as a console script).
"""

import sys

from electra_cli.run_finetuning import main

if __name__ == "__main__":
  sys.exit(main())
