"""Latency of an exported ELECTRA-Small SQuAD 2.0 model answering raw text.

Exports the `small` preset with the `squad` head (random weights: timing
does not depend on them) at `max_seq_length` 384 with the original's
`max_query_length` 64 and `doc_stride` 128, loads the SavedModel back and
times, per question, in the same run:

- `serving_default`: raw (question, context) in, answer out; tokenization,
  windows, the model and decoding all in the graph;
- the Python path: the fine-tuning featuriser (`QAFeaturizer`), the
  SavedModel's `serve_ids` on its windows, the Python decoder.

for a short context (one window) and a long one (many windows). Paths take
turns call by call, so load from other processes hits them alike.

Usage:
  python bench/qa_serving_latency.py [--iterations 20]
"""

import argparse
import functools
import os
import sys
import tempfile

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
sys.path.insert(0, ROOT)

import tensorflow as tf  # noqa: E402
import tf_keras  # noqa: E402

from bench import machine, timing  # noqa: E402
from electra_tf import cli  # noqa: E402
from electra_tf.serving import export  # noqa: E402
from electra_tf.text import tokenization  # noqa: E402
from finetune import modeling, registry  # noqa: E402
from finetune.config import FinetuningConfig  # noqa: E402
from finetune.qa import decoding  # noqa: E402
from finetune.qa.examples import QAExample, split_context  # noqa: E402
from finetune.qa.featurization import QAFeaturizer  # noqa: E402
from finetune.serving import task_exportable  # noqa: E402

SEQ = 384
VOCAB_FILE = os.path.join(ROOT, "data", "vocab.txt")
CORPUS_FILE = os.path.join(ROOT, "data", "corpus", "hamlet_gut.txt")


def contexts():
  """(short, long) contexts from the shipped Hamlet text."""
  with open(CORPUS_FILE, encoding="utf-8") as f:
    lines = [line.strip() for line in f.read().splitlines()[2000:3000] if line.strip()]
  return " ".join(lines[:8]), " ".join(lines[:400])


def main() -> int:
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("--iterations", type=cli.positive_int, default=20,
                      help="calls per path and context")
  args = parser.parse_args()

  config = FinetuningConfig.create("bench", "", model_size="small", task_names=["squad"],
                                   max_seq_length=SEQ, vocab_file=VOCAB_FILE)
  tf_keras.utils.set_random_seed(0)
  tokenizer = tokenization.FullTokenizer(VOCAB_FILE)
  task, = registry.get_tasks(config, tokenizer)
  model = modeling.build_model(config, [task])
  export_dir = tempfile.mkdtemp(prefix="qa_serving_latency_")
  path = export.export_saved_model(
      task_exportable(model, task, encoder_config=model.bert_config, vocab_file=VOCAB_FILE,
                      max_seq_length=SEQ, do_lower_case=True),
      export_dir, overwrite=True, log=lambda line: None)
  loaded = tf.saved_model.load(path)
  serve_text = loaded.signatures[export.TEXT_SIGNATURE]
  serve_ids = loaded.signatures[export.IDS_SIGNATURE]
  featurizer = QAFeaturizer(tokenizer, SEQ, config.max_query_length, config.doc_stride)
  question = "Who speaks of the ghost and why?"

  def python_path(context):
    example = QAExample("squad", 0, "q", question, split_context(context)[0])
    features, data = featurizer.featurize([example], False, "squad", 0)
    outputs = serve_ids(**{k: tf.constant(features[k])
                           for k in ("input_ids", "input_mask", "segment_ids")})
    outputs = {k: v.numpy() for k, v in outputs.items()}
    results = {eid: {k: v[i] for k, v in outputs.items()}
               for i, eid in enumerate(features["squad_eid"].tolist())}
    return decoding.decode(data, results, task.decoding_params()).answers["q"]

  def graph_path(context):
    return serve_text(question=tf.constant([question]),
                      context=tf.constant([context]))["answer_text"].numpy()[0].decode()

  print(machine.cpu_header())
  print(f"TensorFlow {tf.__version__}")
  print(f"ELECTRA-Small squad head, max_seq_length {SEQ}, max_query_length "
        f"{config.max_query_length}, doc_stride {config.doc_stride}; "
        f"{args.iterations} calls per path and context\n")
  print("| context | windows | in-graph `serving_default` p50 ms | Python featurise + "
        "`serve_ids` + Python decode p50 ms | same answer |")
  print("| --- | --- | --- | --- | --- |")
  for name, context in zip(("short", "long"), contexts()):
    windows = int(serve_text(question=tf.constant([question]),
                             context=tf.constant([context]))["num_windows"][0])
    paths = {"graph": graph_path, "python": python_path}
    answers = {key: run(context) for key, run in paths.items()}
    times = timing.time_round_robin(
        {key: functools.partial(run, context) for key, run in paths.items()}, args.iterations,
        warmup=1)
    p50 = {key: timing.percentile_ms(values, 50) for key, values in times.items()}
    print(f"| {name} ({len(context.split())} words) | {windows} | {p50['graph']:.1f} | "
          f"{p50['python']:.1f} | {answers['graph'] == answers['python']} |")
  return 0


if __name__ == "__main__":
  sys.exit(main())
