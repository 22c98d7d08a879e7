"""Corpus -> WordPiece vocab.txt (not in the original). See data_prep/build_vocab.py."""

import sys

from data_prep.build_vocab import main

if __name__ == "__main__":
  sys.exit(main())
