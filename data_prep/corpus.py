"""Reading corpus text files robustly, and keeping the output dir safe.

Text decoding: the original reads with `tf.io.gfile.GFile` in text mode, which
raises on bytes that are not UTF-8 and kills that job (with several processes
the others finish, leaving an output that looks complete). Here each invalid
byte sequence becomes U+FFFD, which the tokenizer then deletes, exactly as the
original tokenizer treats undecodable bytes (`convert_to_unicode` decodes with
errors="ignore"); the count is logged per file and in the summary. A file
whose first 64 KiB hold a NUL byte or are mostly not UTF-8 is skipped as
binary (e.g. a stray archive), with a counted warning. Lines are split on
"\\n" only, as GFile does, then stripped.
"""

import dataclasses
import os
import re
from typing import Dict, Iterator, List, Optional, Sequence, Tuple

from electra_tf import fileio
from electra_tf.errors import UserError

# Name of shard i of n, as the original writes it.
SHARD_FORMAT = "pretrain_data.tfrecord-{index}-of-{num_shards}"
# Shards are written under this name and renamed when the whole build has
# succeeded. It does not match the training glob `pretrain_data.tfrecord*`.
TEMP_SHARD_FORMAT = ".incomplete-shard-{index}-of-{num_shards}"
BUILD_INFO_FILE = "build_info.json"
_OWNED_FILE = re.compile(
    r"pretrain_data\.tfrecord-\d+-of-\d+|\.incomplete-shard-\d+-of-\d+|"
    + re.escape(BUILD_INFO_FILE))
_TEMP_SHARD = re.compile(r"\.incomplete-shard-\d+-of-\d+")

_SNIFF_BYTES = 64 * 1024
_READ_BLOCK_BYTES = 4 << 20
# Below this share of valid UTF-8 in the first 64 KiB a file is not text.
_MIN_VALID_UTF8_FRACTION = 0.7
_REPLACEMENT_BYTES = "\ufffd".encode("utf-8")


class DataPrepError(UserError):
  """A problem with the user's inputs or flags; the message says what to do."""


@dataclasses.dataclass
class ReadCounts:
  """What reading one file saw: its size and any invalid UTF-8."""
  bytes_read: int = 0
  invalid_sequences: int = 0
  lines_with_invalid_bytes: int = 0


def list_corpus_files(corpus_dir: str) -> List[str]:
  """Every regular file in `corpus_dir` and its subdirectories, sorted by path.

  The original read only the files directly in the dir (a flat dir lists the
  same files); subdirectories are read so that WikiExtractor's `AA/wiki_00`
  layout works, and their number is logged.

  Raises:
    DataPrepError: the dir is missing, not a dir, or holds no files.
  """
  if not os.path.exists(corpus_dir):
    raise DataPrepError(f"corpus dir {corpus_dir!r} does not exist; pass "
                        "--corpus-dir with a directory of text files")
  if not os.path.isdir(corpus_dir):
    raise DataPrepError(f"--corpus-dir {corpus_dir!r} is a file, not a "
                        "directory; put the text file(s) in a directory")
  files, subdirs = [], 0
  for root, dirs, names in os.walk(corpus_dir):
    dirs.sort()
    subdirs += len(dirs)
    files += [os.path.join(root, name) for name in names
              if os.path.isfile(os.path.join(root, name))]
  files.sort()
  if subdirs:
    print(f"reading {len(files)} files in {corpus_dir} and its {subdirs} subdirectories",
          flush=True)
  if not files:
    raise DataPrepError(
        f"corpus dir {corpus_dir!r} contains no files; expected plain-text "
        "files, one sentence per line, blank lines between documents")
  return files


def binary_file_reason(path: str) -> Optional[str]:
  """Why `path` looks like a binary (non-text) file, or None if it looks text."""
  with open(path, "rb") as f:
    head = f.read(_SNIFF_BYTES)
  if b"\x00" in head:
    return "contains NUL bytes (binary or UTF-16?)"
  # A multi-byte character may be cut at the end of the sniffed block.
  decoded = head[:-4].decode("utf-8", "replace") if len(head) > 4 else head.decode(
      "utf-8", "replace")
  invalid = decoded.count("\ufffd") - head.count(_REPLACEMENT_BYTES)
  if head and invalid > (1 - _MIN_VALID_UTF8_FRACTION) * len(head):
    return f"{invalid} of its first {len(head)} bytes are not UTF-8"
  return None


def _decode_lines(data: bytes, counts: ReadCounts) -> List[str]:
  """Complete lines (the last may lack its "\n") -> stripped text lines."""
  try:
    lines = data.decode("utf-8").split("\n")
  except UnicodeDecodeError:
    lines = []
    for raw in data.split(b"\n"):
      try:
        lines.append(raw.decode("utf-8"))
      except UnicodeDecodeError:
        line = raw.decode("utf-8", "replace")
        counts.invalid_sequences += line.count("\ufffd") - raw.count(_REPLACEMENT_BYTES)
        counts.lines_with_invalid_bytes += 1
        lines.append(line)
  if data.endswith(b"\n"):
    lines.pop()  # the empty string after the final newline is not a line
  return [line.strip() for line in lines]


def read_line_blocks(path: str, counts: ReadCounts) -> Iterator[List[str]]:
  """Yields the stripped lines of a file, a few MiB at a time.

  Lines end at "\n" only, as with the original's GFile. Decoding whole blocks
  is much faster than line by line; a block with invalid UTF-8 is decoded
  line by line, each invalid sequence becoming U+FFFD.
  """
  pending: List[bytes] = []  # the start of a line that continues in later blocks
  with open(path, "rb") as f:
    while True:
      block = f.read(_READ_BLOCK_BYTES)
      if not block:
        break
      counts.bytes_read += len(block)
      cut = block.rfind(b"\n") + 1
      if cut == 0:
        pending.append(block)
        continue
      yield _decode_lines(b"".join(pending) + block[:cut], counts)
      pending = [block[cut:]]
  rest = b"".join(pending)
  if rest:
    yield _decode_lines(rest, counts)


def prepare_output_dir(output_dir: str, protected_dirs: Sequence[str]) -> None:
  """Empties (or creates) the output dir, refusing to delete anything not ours.

  The original deletes and recreates the output dir unconditionally. Here it
  is emptied only if it holds nothing but files this tool writes (shards,
  temporary shards, build_info.json).

  Raises:
    DataPrepError: the output dir is, contains or is inside a protected
      (input) dir, is a file, or holds other files.
  """
  for protected in protected_dirs:
    relation = fileio.path_overlap(output_dir, protected)
    if relation is not None:
      consequence = ("its shards would be read as corpus text by the next build"
                     if relation == "is inside" else "clearing it would delete your data")
      raise DataPrepError(
          f"output dir {output_dir!r} {relation} the input dir {protected!r}; "
          f"{consequence}. Choose another --output-dir")
  if os.path.exists(output_dir) and not os.path.isdir(output_dir):
    raise DataPrepError(f"output dir {output_dir!r} is a file; choose a directory")
  if os.path.isdir(output_dir):
    foreign = [name for name in sorted(os.listdir(output_dir))
               if not _OWNED_FILE.fullmatch(name)
               or not os.path.isfile(os.path.join(output_dir, name))]
    if foreign:
      shown = ", ".join(foreign[:5]) + (" ..." if len(foreign) > 5 else "")
      raise DataPrepError(
          f"output dir {output_dir!r} holds {len(foreign)} file(s) this tool "
          f"did not write ({shown}); it is cleared before writing, so choose an "
          "empty or new --output-dir, or move those files")
    for name in os.listdir(output_dir):
      os.remove(os.path.join(output_dir, name))
  os.makedirs(output_dir, exist_ok=True)


def remove_temp_shards(output_dir: str) -> None:
  """Deletes shards left by an unfinished build."""
  if os.path.isdir(output_dir):
    for name in os.listdir(output_dir):
      if _TEMP_SHARD.fullmatch(name):
        os.remove(os.path.join(output_dir, name))


def final_shard_names(jobs: Sequence[Tuple[Dict[str, str], int]],
                      output_dir: str) -> Dict[str, Optional[str]]:
  """{temporary shard: final path, or None for an empty shard (not written)}.

  Args:
    jobs: per job, ({temporary shard: planned final path} in shard order, the
      number of its shards that got examples: round-robin fills the first ones).
    output_dir: where the shards go.

  With every shard filled the names are the planned ones; otherwise the k
  filled shards are renumbered `pretrain_data.tfrecord-{0..k-1}-of-{k}` in
  the order of their planned index: the original's names for k shards.
  """
  planned = {temp: final for shards, _ in jobs for temp, final in shards.items()}
  filled, names = [], {}
  for shards, nonempty in jobs:
    temps = list(shards)
    filled += temps[:nonempty]
    names.update({temp: None for temp in temps[nonempty:]})
  if not names:
    return planned
  filled.sort(key=lambda temp: int(re.search(r"-(\d+)-of-\d+$", planned[temp]).group(1)))
  for index, temp in enumerate(filled):
    names[temp] = os.path.join(output_dir, SHARD_FORMAT.format(index=index,
                                                               num_shards=len(filled)))
  return names
