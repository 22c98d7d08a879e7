"""Sequence tagging tasks: one label per word, predicted at its first sub-token.

The original's `TaggingTask` (`finetune/tagging/tagging_tasks.py`):

- data: `<data_dir>/finetuning_data/<task>/{train,dev,test}.txt` in CoNLL
  format (`reader.read_conll`);
- labels: span tasks (`is_token_level=False`, e.g. chunking, NER) turn each
  sentence's IOB / BIO / BIOES tags into spans and the spans into BIOES tags
  (`labels.to_bioes`); token-level tasks (e.g. part-of-speech) keep the tags.
  The label mapping is built once from every split present (train, dev,
  test), sorted, and pickled beside the cached features as
  `<task>_label_mapping.pkl` (`debug_<task>_...` in debug mode), {tag: id};
  the fine-tuned model directory keeps a copy, so a served model needs no data;
- features (`featurization.align`): `input_ids`, `input_mask`, `segment_ids`,
  `<task>_eid`, `<task>_labels` (each word's label id, padded to L),
  `<task>_labels_mask` (1.0 per tagged word) and `<task>_labeled_positions`
  (each tagged word's first sub-token);
- head (`task_specific/<task>/dense`): the final hidden states gathered at
  the tagged positions, one dense layer to the tags (no dropout; Glorot-uniform
  kernel, zero bias as `tf.layers.dense`); loss per example: softmax
  cross-entropy times `labels_mask`, summed over the words.

Different here: the mapping is rebuilt from the data on every run (the
original reused a stale pickle after the data changed) and is part of the
cache key; test predictions are written in CoNLL format (the original wrote
none for tagging).
"""

import logging
import os
import pickle
from typing import Dict, List, Optional, Sequence

import numpy as np
import tensorflow as tf
import tf_keras

from electra_tf import fileio
from electra_tf.config.model import TransformerConfig
from electra_tf.modeling.layers import dense_names
from electra_tf.modeling.objective import gather_positions
from electra_tf.text.tokenization import FullTokenizer
from finetune.tagging import labels, metrics, reader
from finetune.tagging.featurization import align
from finetune.tagging.serving import WordTaggingInputs
from finetune.task import Example, FeatureSpec, FinetuningDataError, Scorer, Task, TaskHead

logger = logging.getLogger(__name__)

LABEL_MAPPING_SUFFIX = "_label_mapping.pkl"
# Splits the label mapping is built from, as the original.
MAPPING_SPLITS = ("train", "dev", "test")
LABELLED_SPLITS = ("train", "dev")


class TaggingExample(Example):
  """One sentence with one label id per word.

  Attributes:
    sentence: the sentence as read (words, tags, line numbers, columns).
    label_ids: each word's label id (0 for a words-only test file).
  """

  def __init__(self, task_name: str, eid: int, sentence: reader.Sentence,
               label_ids: List[int]):
    super().__init__(task_name, eid)
    self.sentence = sentence
    self.label_ids = label_ids

  @property
  def words(self) -> List[str]:
    return self.sentence.words

  def __repr__(self) -> str:
    return f"TaggingExample({self.task_name} {self.eid}: {self.words!r})"


class TaggingHead(TaskHead):
  """Gather at the tagged positions -> `dense` to the tags.

  With `<task>_labeled_positions` int [B, N] in the features, outputs
  `logits` float32 [B, N, C] and `predictions` int32 [B, N] for those
  positions; without it (serving from ids), for every token: N = L.
  """

  def __init__(self, task_name: str, num_labels: int, **kwargs):
    super().__init__(**kwargs)
    self.positions_key = f"{task_name}_labeled_positions"
    self.dense = tf_keras.layers.Dense(num_labels, name="dense",
                                       kernel_initializer=tf_keras.initializers.GlorotUniform())

  def call(self, sequence_output, features=None, training=None):
    if features is not None and self.positions_key in features:
      sequence_output = gather_positions(sequence_output, features[self.positions_key])
    logits = tf.cast(self.dense(sequence_output), tf.float32)
    return {"logits": logits, "predictions": tf.argmax(logits, axis=-1, output_type=tf.int32)}

  def named_variables(self):
    return dense_names("dense", self.dense)


class TaggingTask(Task):
  """A CoNLL-format tagging task, span-level or token-level.

  Serves per token from ids (`logits` [B, L, C], `predictions` [B, L],
  `tags` string [B, L]) and per word from raw text (`WordTaggingInputs`).
  """
  kind = "tagging"
  serving_output_names = ("logits", "predictions", "tags")

  def __init__(self, config, name: str, is_token_level: bool, tokenizer=None):
    super().__init__(config, name, tokenizer)
    self.is_token_level = is_token_level
    self._label_list: Optional[List[str]] = None
    self._sentences: Dict[str, List[reader.Sentence]] = {}
    self._word_tokenizer = None
    self._vocab_file = config.vocab_file

  # --- data and labels -------------------------------------------------------------

  def data_file(self, split: str) -> str:
    return os.path.join(self.config.raw_data_dir(self.name), split + ".txt")

  def test_splits(self) -> List[str]:
    return ["test"]

  def read(self, split: str) -> List[reader.Sentence]:
    """The split's sentences (read once)."""
    if split not in self._sentences:
      self._sentences[split] = reader.read_conll(
          self.data_file(split), labelled=split in LABELLED_SPLITS,
          max_sentences=reader.DEBUG_MAX_SENTENCES if self.config.debug else None)
    return self._sentences[split]

  def sentence_labels(self, sentence: reader.Sentence, path: str) -> List[str]:
    """The labels a sentence is trained on: BIOES for span tasks, else its tags."""
    if self.is_token_level:
      return list(sentence.tags)
    for tag, line in zip(sentence.tags, sentence.lines):
      try:
        labels.check_span_tag(tag)
      except labels.TagError as e:
        raise FinetuningDataError(f"{path}:{line}: {e} (task {self.name} is span-level)") from None
    return labels.to_bioes(sentence.tags)

  def label_mapping_path(self, directory: Optional[str] = None) -> str:
    prefix = "debug_" if self.config.debug else ""
    return os.path.join(directory or self.config.preprocessed_data_dir,
                        prefix + self.name + LABEL_MAPPING_SUFFIX)

  @property
  def label_list(self) -> List[str]:
    """The labels in id order (built from the data on first use)."""
    if self._label_list is None:
      self._label_list = self._build_label_list()
    return self._label_list

  def _build_label_list(self) -> List[str]:
    found = set()
    for split in MAPPING_SPLITS:
      path = self.data_file(split)
      if not tf.io.gfile.exists(path):
        continue
      for sentence in self.read(split):
        if sentence.has_tags:
          found.update(self.sentence_labels(sentence, path))
    if not found:
      raise FinetuningDataError(
          f"no tagged sentences in {self.config.raw_data_dir(self.name)} to build the "
          f"{self.name} labels from (train.txt, dev.txt: word first, tag last)")
    label_list = sorted(found)
    mapping = {label: i for i, label in enumerate(label_list)}
    path = self.label_mapping_path()
    if tf.io.gfile.exists(path):
      with tf.io.gfile.GFile(path, "rb") as f:
        previous = pickle.load(f)
      if previous == mapping:
        return label_list
      logger.warning("%s: the data's labels changed; rewriting the label mapping", path)
    fileio.write_pickle(path, mapping)
    logger.info("%s: %d labels -> %s", self.name, len(label_list), path)
    return label_list

  def save_to_model_dir(self, model_dir: str) -> None:
    fileio.write_pickle(self.label_mapping_path(model_dir),
                        {label: i for i, label in enumerate(self.label_list)})

  def load_from_model_dir(self, model_dir: str) -> None:
    path = self.label_mapping_path(model_dir)
    if tf.io.gfile.exists(path):
      with tf.io.gfile.GFile(path, "rb") as f:
        mapping = pickle.load(f)
      self._label_list = sorted(mapping, key=mapping.get)
    if tf.io.gfile.exists(os.path.join(model_dir, fileio.VOCAB_FILE)):
      self._vocab_file = os.path.join(model_dir, fileio.VOCAB_FILE)

  def get_examples(self, split: str) -> List[TaggingExample]:
    path = self.data_file(split)
    label_ids = {label: i for i, label in enumerate(self.label_list)}
    examples = []
    for eid, sentence in enumerate(self.read(split)):
      if not sentence.has_tags:
        examples.append(TaggingExample(self.name, eid, sentence, [0] * len(sentence.words)))
        continue
      sentence_labels = self.sentence_labels(sentence, path)
      for label, line in zip(sentence_labels, sentence.lines):
        if label not in label_ids:
          raise FinetuningDataError(f"{path}:{line}: label {label!r} is not one of the "
                                    f"model's {self.name} labels {self.label_list}")
      examples.append(TaggingExample(self.name, eid, sentence,
                                     [label_ids[label] for label in sentence_labels]))
    return examples

  # --- features --------------------------------------------------------------------------

  def feature_specs(self) -> List[FeatureSpec]:
    length = self.config.max_seq_length
    return [FeatureSpec(f"{self.name}_eid"),
            FeatureSpec(f"{self.name}_labels", (length,)),
            FeatureSpec(f"{self.name}_labels_mask", (length,), is_int=False),
            FeatureSpec(f"{self.name}_labeled_positions", (length,))]

  def featurization_params(self):
    return {**super().featurization_params(), "is_token_level": self.is_token_level,
            "labels": self.label_list}

  def tokenizer_casing(self, do_lower_case: bool, strip_accents: bool):
    # The original's `tokenize_and_align(cased=False)`: always lower-cased and
    # accent-stripped, whatever `do_lower_case` says.
    return True, True

  def word_tokenizer(self) -> FullTokenizer:
    """The task's tokenizer if it lower-cases and strips accents, else such a one."""
    if self._word_tokenizer is None:
      if self.tokenizer is None:
        raise ValueError(f"task {self.name} was built without a tokenizer")
      if self.tokenizer.do_lower_case and self.tokenizer.strip_accents:
        self._word_tokenizer = self.tokenizer
      else:
        self._word_tokenizer = FullTokenizer(self._vocab_file, True, True)
    return self._word_tokenizer

  def encode_words(self, sentences: Sequence[Sequence[str]]):
    """Sentences of words -> (input ids, tagged positions) per sentence."""
    tokenizer = self.word_tokenizer()
    pieces = iter(tokenizer.encode_batch([word for words in sentences for word in words]))
    cls_id, sep_id = tokenizer.convert_tokens_to_ids(["[CLS]", "[SEP]"])
    return [align([next(pieces) for _ in words], self.config.max_seq_length, cls_id, sep_id)
            for words in sentences]

  def featurize(self, examples: Sequence[TaggingExample], is_training: bool,
                log: bool = False) -> Dict[str, np.ndarray]:
    length, num = self.config.max_seq_length, len(examples)
    features = {name: np.zeros([num, length], np.int32)
                for name in ("input_ids", "input_mask", "segment_ids", f"{self.name}_labels",
                             f"{self.name}_labeled_positions")}
    features[f"{self.name}_labels_mask"] = np.zeros([num, length], np.float32)
    features["task_id"] = np.full([num], self.task_id, np.int32)
    features[f"{self.name}_eid"] = np.array([e.eid for e in examples], np.int32)
    truncated_sentences = truncated_words = 0
    for i, (example, (ids, positions)) in enumerate(
        zip(examples, self.encode_words([e.words for e in examples]))):
      features["input_ids"][i, :len(ids)] = ids
      features["input_mask"][i, :len(ids)] = 1
      features["segment_ids"][i, :len(ids)] = 1
      kept_labels = example.label_ids[:length]
      features[f"{self.name}_labels"][i, :len(kept_labels)] = kept_labels
      features[f"{self.name}_labeled_positions"][i, :len(positions)] = positions
      features[f"{self.name}_labels_mask"][i, :len(positions)] = 1.0
      if len(positions) < len(example.words):
        truncated_sentences += 1
        truncated_words += len(example.words) - len(positions)
    if truncated_sentences:
      logger.warning("%s: %d of %d sentences were truncated to max_seq_length %d (the "
                     "original's rule); their last %d words are not tagged nor scored",
                     self.name, truncated_sentences, num, length, truncated_words)
    if log and examples:
      tokens = self.word_tokenizer().convert_ids_to_tokens(
          features["input_ids"][0][features["input_mask"][0] == 1].tolist())
      logger.info("%s example %d: %s\n  tokens: %s\n  labels: %s", self.name,
                  examples[0].eid, examples[0], " ".join(tokens),
                  [self.label_list[i] for i in examples[0].label_ids])
    return features

  # --- model ------------------------------------------------------------------------------

  def build_head(self, bert_config: TransformerConfig) -> TaggingHead:
    return TaggingHead(self.name, len(self.label_list), name=f"task_specific_{self.name}")

  def loss(self, outputs, features):
    one_hot = tf.one_hot(features[f"{self.name}_labels"], len(self.label_list),
                         dtype=tf.float32)
    losses = -tf.reduce_sum(one_hot * tf.nn.log_softmax(outputs["logits"], axis=-1), axis=-1)
    return tf.reduce_sum(losses * features[f"{self.name}_labels_mask"], axis=-1)

  def get_scorer(self) -> Scorer:
    if self.is_token_level:
      return metrics.AccuracyScorer()
    return metrics.EntityLevelF1Scorer(self.label_list)

  # --- serving and test outputs ------------------------------------------------------------

  def serving_outputs(self, outputs):
    predictions = tf.cast(outputs["predictions"], tf.int32)
    return {"logits": tf.cast(outputs["logits"], tf.float32), "predictions": predictions,
            "tags": tf.gather(tf.constant(self.label_list), predictions)}

  def serving_text_inputs(self) -> WordTaggingInputs:
    return WordTaggingInputs()

  def predicted_tags(self, example: TaggingExample, predictions: np.ndarray,
                     num_tagged: int, bioes_output: bool) -> List[str]:
    """One output tag per word; "O" for words truncated away."""
    tags = [self.label_list[i] for i in predictions[:num_tagged]]
    if not self.is_token_level:
      spans = labels.get_span_labels(tags)
      tags = labels.get_tags(spans, num_tagged, "BIOES" if bioes_output else "BIO")
    return tags + [labels.OUTSIDE] * (len(example.words) - num_tagged)

  def write_test_outputs(self, split, outputs, trial):
    """Each input line followed by its predicted tag; blank lines between sentences.

    Span tasks write their predicted spans in BIO, or BIOES if the file's tags
    use E- or S-; words truncated away get "O" (counted in the log).
    """
    examples = {e.eid: e for e in self.get_examples(split)}
    eids = outputs["eid"].tolist()
    if sorted(eids) != sorted(examples):
      raise ValueError(f"{self.name} {split}: predicted {len(eids)} sentences, the file has "
                       f"{len(examples)}")
    bioes_output = any(tag[:2] in ("E-", "S-") for e in examples.values()
                       if e.sentence.has_tags for tag in e.sentence.tags)
    rows = {eid: i for i, eid in enumerate(eids)}
    blocks, untagged = [], 0
    for eid in sorted(examples):
      example, row = examples[eid], rows[eid]
      num_tagged = int(round(float(outputs["labels_mask"][row].sum())))
      untagged += len(example.words) - num_tagged
      tags = self.predicted_tags(example, outputs["predictions"][row], num_tagged, bioes_output)
      blocks.append("".join(" ".join(columns + [tag]) + "\n"
                            for columns, tag in zip(example.sentence.columns, tags)))
    if untagged:
      logger.warning("%s %s: %d words were truncated away and are written with tag O",
                     self.name, split, untagged)
    path = os.path.splitext(self.config.test_predictions(self.name, split, trial))[0] + ".txt"
    fileio.atomic_write(path, "\n".join(blocks))
    return [path]


class Chunking(TaggingTask):
  """CoNLL-2000 chunking: span-level; CoNLL-2000 has no dev set, so the
  original's README has the test file copied to dev.txt."""
  name = "chunk"

  def __init__(self, config, tokenizer=None):
    super().__init__(config, self.name, False, tokenizer)


class NamedEntities(TaggingTask):
  """Named-entity recognition in CoNLL format (e.g. CoNLL-2003, WNUT): span-level."""
  name = "ner"

  def __init__(self, config, tokenizer=None):
    super().__init__(config, self.name, False, tokenizer)


class PartOfSpeech(TaggingTask):
  """Part-of-speech tagging in CoNLL format: token-level (accuracy)."""
  name = "pos"

  def __init__(self, config, tokenizer=None):
    super().__init__(config, self.name, True, tokenizer)


TAGGING_TASKS = (Chunking, NamedEntities, PartOfSpeech)
