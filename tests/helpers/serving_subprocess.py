"""The start of a script that loads an exported SavedModel in a process where
the project is not importable: `python -c SCRIPT export_dir inputs.npz outputs`."""

LOAD_WITHOUT_PROJECT = r'''
import json
import sys

import numpy as np

try:
  import electra_tf
except ModuleNotFoundError:
  pass
else:
  sys.exit("electra_tf must not be importable here, found " + electra_tf.__file__)
import tensorflow as tf

export_dir, inputs_file, outputs_file = sys.argv[1:]
inputs = np.load(inputs_file)
model = tf.saved_model.load(export_dir)
'''
