"""Learns a WordPiece vocab (with BERT's special tokens) from a corpus.

`python build_vocab.py --help` lists the flags; the code is in
`electra_cli/build_vocab.py` (`pip install .` also installs it as a console script).
"""

import sys

from electra_cli.build_vocab import main

if __name__ == "__main__":
  sys.exit(main())
