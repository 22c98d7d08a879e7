"""OpenWebText -> pre-training TFRecords; same command line as the original.

See `data_prep/build_openwebtext_pretraining_dataset.py`.
"""

import sys

from data_prep.build_openwebtext_pretraining_dataset import main

if __name__ == "__main__":
  sys.exit(main())
