"""The in-graph tokenizer and featurisation equal the Python ones.

Ground truth: `tokenization.FullTokenizer` (itself proven equal to the
original's pure-Python tokenizer in tests/electra_tf/text/test_tokenization.py) and
a line-by-line port of the original's featurisation.
"""

import random
import unicodedata

import numpy as np
import pytest
import tensorflow as tf

from electra_tf.text import ingraph, packing, tokenization
from tests.conftest import VOCAB_FILE
from tests.helpers.featurization_reference import original_featurize, sentiment_sentences
from tests.helpers.tokenizer_cases import HARD_CASES, MODES, corpus_lines

MODE_IDS = lambda m: f"lower={m[0]},strip={m[1]}"  # noqa: E731


@pytest.fixture(scope="module")
def tokenizers():
  """(in-graph, FullTokenizer) per mode, built once."""
  return {mode: (ingraph.InGraphTokenizer(str(VOCAB_FILE), *mode),
                 tokenization.FullTokenizer(str(VOCAB_FILE), *mode)) for mode in MODES}


def in_graph_ids(tokenizer, texts):
  return tokenizer.tokenize(tf.constant(texts, tf.string)).to_list()


def assert_same_ids(in_graph, full, texts):
  got, want = in_graph_ids(in_graph, texts), full.encode_batch(texts)
  mismatches = [(t, g, w) for t, g, w in zip(texts, got, want) if g != w]
  assert not mismatches, f"{len(mismatches)} mismatches, first: {mismatches[:3]!r}"
  return sum(map(len, want))


def assert_same_normalisation(in_graph, mode, texts):
  got = [t.decode("utf-8") for t in in_graph.normalize(tf.constant(texts)).numpy()]
  want = [tokenization.normalize_text(t, *mode) for t in texts]
  mismatches = [(t, g, w) for t, g, w in zip(texts, got, want) if g != w]
  assert not mismatches, f"{len(mismatches)} mismatches, first: {mismatches[:3]!r}"


@pytest.mark.parametrize("mode", MODES, ids=MODE_IDS)
def test_parity_on_shakespeare_sentiment_and_hard_cases(tokenizers, mode):
  in_graph, full = tokenizers[mode]
  texts = corpus_lines() + sentiment_sentences()[0] + HARD_CASES
  assert len(texts) > 40_000
  assert assert_same_ids(in_graph, full, texts) > 200_000


def context_texts(code_points):
  """Each character between letters, alone, and after an upper-case letter."""
  return [f"a{chr(c)}b {chr(c)} X{chr(c)}" for c in code_points if not 0xD800 <= c < 0xE000]


def casing_stress(count=20_000, seed=0):
  """Short strings over capital sigma's context classes (cased, case-ignorable,
  neither) and the combining marks whose order NFD fixes (non-Mn marks with a
  combining class, e.g. the musical stems U+1D165..)."""
  rng = random.Random(seed)
  marks = [chr(c) for c in range(0x300, 0x110000) if not 0xD800 <= c < 0xE000
           and unicodedata.combining(chr(c))]
  sigma_pool = list("ΣσΑα Aa.'1\u0301\u0345\u02e2\u00ad\u200b\u0130")
  texts = ["".join(rng.choice(sigma_pool) for _ in range(rng.randrange(1, 8)))
           for _ in range(count)]
  texts += ["".join(rng.choice(marks + list("aeΣ")) for _ in range(rng.randrange(1, 10)))
            for _ in range(count)]
  return texts


@pytest.mark.parametrize("mode", MODES[:3], ids=MODE_IDS)
def test_normalisation_equals_python_on_every_bmp_code_point(tokenizers, mode):
  """String-level: deletion, str.lower (final sigma) and NFD minus Mn."""
  in_graph, _ = tokenizers[mode]
  assert_same_normalisation(in_graph, mode, context_texts(range(0x10000)) + casing_stress())


@pytest.mark.parametrize("mode", MODES[:3], ids=MODE_IDS)
def test_parity_on_every_bmp_code_point(tokenizers, mode):
  in_graph, full = tokenizers[mode]
  assert_same_ids(in_graph, full, context_texts(range(0x10000)) + casing_stress(2000))


@pytest.mark.slow
@pytest.mark.parametrize("mode", MODES[:3], ids=MODE_IDS)
def test_parity_on_every_code_point(tokenizers, mode):
  in_graph, full = tokenizers[mode]
  texts = context_texts(range(0x10000, 0x110000))
  assert_same_normalisation(in_graph, mode, texts)
  assert_same_ids(in_graph, full, texts)


def test_known_answers(tokenizers):
  in_graph, full = tokenizers[(True, True)]
  normalize = lambda text, t=in_graph: t.normalize(tf.constant([text])).numpy()[0].decode()
  assert normalize("ΟΔΥΣΣΕΥΣ ΣΑ Α\u0301Σ.") == "οδυσσευς σα ας."  # final sigma only word-finally
  # NFD orders the musical stems by combining class (216 before 226); Mn marks go.
  assert normalize("x\U0001d16d\U0001d165\u0301") == "x\U0001d165\U0001d16d"
  assert normalize("Ångström\x00\ufffd\u200b") == "angstrom"
  no_strip = tokenizers[(True, False)][0]
  assert no_strip.normalize(tf.constant(["İ"])).numpy()[0].decode() == "i\u0307"
  assert in_graph_ids(in_graph, ["x" * 201, "x" * 200 + "!", "unaffable", "", " \t\n"]) == [
      [100], full.encode("x" * 200) + [999], [14477, 20961, 3468], [], []]
  assert in_graph_ids(in_graph, ["Hello, World!"]) == [[7592, 1010, 2088, 999]]


def test_invalid_utf8_is_dropped_as_the_original_decodes_bytes(tokenizers):
  """The original's convert_to_unicode(bytes) decodes with errors="ignore"."""
  in_graph, full = tokenizers[(True, True)]
  raw = [b"a\xffb", b"caf\xc3\xa9\xe2\x82", b"\xed\xa0\x80x y", b"\xc0\xafok", b"\xf4\x90\x80\x80z"]
  got = in_graph.tokenize(tf.constant(raw)).to_list()
  assert got == full.encode_batch([b.decode("utf-8", "ignore") for b in raw])


def test_unusual_vocab_entries(tmp_path):
  """Duplicates, blank lines and entries with spaces, as the original reads them."""
  tokens = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "cat", "", "the",
            "a b", "##s", "sat", "\x00odd", "cat"]
  vocab_file = tmp_path / "vocab.txt"
  vocab_file.write_text("\n".join(tokens) + "\n", encoding="utf-8")
  texts = ["the cats sat", "a b the cat", "odd", "thethe", ""]
  in_graph = ingraph.InGraphTokenizer(str(vocab_file))
  assert_same_ids(in_graph, tokenization.FullTokenizer(str(vocab_file)), texts)
  assert in_graph_ids(in_graph, ["the cat"]) == [[8, 13]]  # the last copy's id


def test_vocab_without_unk_is_rejected(tmp_path):
  vocab_file = tmp_path / "vocab.txt"
  vocab_file.write_text("[PAD]\nthe\ncat\n", encoding="utf-8")
  with pytest.raises(ValueError, match=r"\[UNK\]"):
    ingraph.InGraphTokenizer(str(vocab_file))


def test_empty_batch_and_texts_without_words(tokenizers):
  in_graph, _ = tokenizers[(True, True)]
  assert in_graph.tokenize(tf.constant([], tf.string)).to_list() == []
  assert in_graph_ids(in_graph, ["", " ", "\x00\u200b"]) == [[], [], []]


def test_word_pieces_give_each_pieces_characters(tokenizers):
  in_graph, full = tokenizers[(True, True)]
  texts = ["Smith's Café", "a" * 201, ""]
  ids, chars = in_graph.word_pieces(tf.constant(texts))
  assert [[full.convert_ids_to_tokens(word) for word in row] for row in ids.to_list()] == [
      [["smith"], ["'"], ["s"], ["cafe"]], [["[UNK]"]], []]
  # An [UNK] covers its whole word (here one over max_input_chars_per_word).
  assert chars.to_list() == [[[5], [1], [1], [4]], [[201]], []]
  assert in_graph.unk_id == full.vocab["[UNK]"]
  # Pieces of one word: "##" is not a character of the text.
  ids, chars = in_graph.word_pieces(tf.constant(["unaffable"]))
  pieces = full.convert_ids_to_tokens(ids.flat_values.numpy().tolist())
  assert len(pieces) > 1 and chars.flat_values.numpy().tolist() == [
      len(p[2:]) if p.startswith("##") else len(p) for p in pieces]
  assert sum(chars.flat_values.numpy()) == len("unaffable")


def test_graph_has_only_core_tensorflow_ops(tokenizers):
  """No tensorflow-text (or other custom) ops: the stock saved_model_cli, TF
  Serving builds without tensorflow-text and TF's C API can run it."""
  in_graph, _ = tokenizers[(True, True)]
  function = tf.function(lambda texts: in_graph.tokenize(texts).to_tensor(), autograph=False)
  graph_def = function.get_concrete_function(tf.TensorSpec([None], tf.string)).graph.as_graph_def()
  op_types = {node.op for node in graph_def.node}
  op_types |= {node.op for f in graph_def.library.function for node in f.node_def}
  assert {"LookupTableFindV2", "StaticRegexReplace", "UnicodeDecode"} <= op_types
  assert any(op.endswith("While") for op in op_types)
  assert [op for op in sorted(op_types) if not hasattr(tf.raw_ops, op)] == []


def test_tensorflow_unicode_ops_differ_from_python():
  """Why the tokenizer carries Python's tables instead of TF's Unicode ops."""
  capital = "\u2c2f"  # GLAGOLITIC CAPITAL LETTER CAUDATE CHRIVI, Unicode 14
  assert tf.strings.lower(capital, encoding="utf-8").numpy().decode() != capital.lower()
  unassigned = "\u0378"  # category Cn: the original deletes it
  assert unicodedata.category(unassigned) == "Cn"
  assert not tf.strings.regex_full_match(unassigned, r"\p{C}").numpy()


# --- featurisation -----------------------------------------------------------

class IdTokenizer:
  """Tokens are ids already: feeds original_featurize with known lengths."""

  def tokenize(self, text):
    return [int(t) for t in text.split()]

  def convert_tokens_to_ids(self, tokens):
    return [{"[CLS]": 101, "[SEP]": 102}.get(t, t) for t in tokens]


@pytest.mark.parametrize("max_seq_length", [3, 4, 5, 6, 9, 16])
def test_pack_inputs_equals_the_original_featurisation(max_seq_length):
  """Every pair of lengths up to 12, including empty A and B (a single text)."""
  pairs = [(list(range(1000, 1000 + a)), list(range(2000, 2000 + b)))
           for a in range(13) for b in range(13)]
  packed = packing.pack_inputs(
      tf.ragged.constant([a for a, _ in pairs], tf.int64, ragged_rank=1),
      tf.ragged.constant([b for _, b in pairs], tf.int64, ragged_rank=1),
      max_seq_length, cls_id=101, sep_id=102)
  reference = IdTokenizer()
  for i, (a, b) in enumerate(pairs):
    want = original_featurize(reference, " ".join(map(str, a)), " ".join(map(str, b)),
                              max_seq_length)
    got = {key: packed[key][i].numpy().tolist() for key in want}
    assert got == want, (len(a), len(b))


def test_pack_inputs_on_tokenized_text(tokenizers):
  in_graph, full = tokenizers[(True, True)]
  sentences = sentiment_sentences()[0][:300]
  texts_b = sentences[1:] + [""]
  texts_b[::3] = [""] * len(texts_b[::3])
  packed = packing.pack_inputs(
      in_graph.tokenize(tf.constant(sentences)), in_graph.tokenize(tf.constant(texts_b)),
      48, cls_id=101, sep_id=102)
  for i, (a, b) in enumerate(zip(sentences, texts_b)):
    want = original_featurize(full, a, b, 48)
    assert {key: packed[key][i].numpy().tolist() for key in want} == want, (a, b)


def test_pack_inputs_rejects_lengths_below_three():
  empty = tf.ragged.constant([[]], tf.int64)
  with pytest.raises(ValueError, match="max_seq_length must be >= 3"):
    packing.pack_inputs(empty, empty, 2, 101, 102)
  assert np.array_equal(packing.pack_inputs(empty, empty, 3, 101, 102)["input_ids"],
                        [[101, 102, 0]])
