"""Corpus -> pre-training TFRecords; same command line as the original.

See `data_prep/build_pretraining_dataset.py` for the flags and the changes
from the original.
"""

import sys

from data_prep.build_pretraining_dataset import main

if __name__ == "__main__":
  sys.exit(main())
