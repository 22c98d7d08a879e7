"""Self-describing configs: every hparam's group, default and description,
read from the config class definitions (the one source), for `--help`.

In a config dataclass body:

- a description is a `#:` comment, trailing the field's line or on the
  lines just above it (the Sphinx attribute-comment convention);
- a group is a plain `#` comment above a run of fields that is one line on
  its own (`# loss functions`) or marked with dashes (`# --- electra-tf
  extensions ---`, dashes dropped); other plain comment blocks are
  explanations for readers and are not shown.

Base classes' fields are listed after the class's own, in their own groups.
"""

import ast
import dataclasses
import inspect
import io
import json
import textwrap
import tokenize
from typing import Dict, List, NamedTuple, Tuple


class HParamDoc(NamedTuple):
  name: str
  default: object
  description: str


def _comments(source: str) -> Dict[int, Tuple[str, bool]]:
  """{line number: (comment text, whole line is the comment)}."""
  comments = {}
  lines = source.splitlines()
  for token in tokenize.generate_tokens(io.StringIO(source).readline):
    if token.type == tokenize.COMMENT:
      row, col = token.start
      comments[row] = (token.string, not lines[row - 1][:col].strip())
  return comments


def _class_fields(cls) -> List[Tuple[str, str, str]]:
  """[(field name, group, description)] of the fields `cls` itself defines."""
  source = textwrap.dedent(inspect.getsource(cls))
  comments = _comments(source)
  body = ast.parse(source).body[0].body
  fields, group = [], ""
  previous_end = body[0].end_lineno if body else 0
  for node in body:
    if not (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)):
      previous_end = node.end_lineno
      continue
    above = [row for row in range(previous_end + 1, node.lineno)
             if row in comments and comments[row][1]]
    plain = [comments[row][0] for row in above if not comments[row][0].startswith("#:")]
    headers = [text for text in plain if "---" in text] or (plain if len(plain) == 1 else [])
    if headers:
      group = headers[0].strip("# -")
    described = [comments[row][0] for row in above if comments[row][0].startswith("#:")]
    trailing = comments.get(node.lineno)
    if trailing and not trailing[1] and trailing[0].startswith("#:"):
      described.append(trailing[0])
    description = " ".join(text[2:].strip() for text in described)
    fields.append((node.target.id, group, description))
    previous_end = node.end_lineno
  return fields


def hparam_docs(cls) -> List[Tuple[str, List[HParamDoc]]]:
  """[(group, [HParamDoc])] of every dataclass field of `cls`, in definition
  order: `cls`'s own groups first, then each base class's."""
  defaults = {}
  for field in dataclasses.fields(cls):
    if field.default is not dataclasses.MISSING:
      defaults[field.name] = field.default
    elif field.default_factory is not dataclasses.MISSING:
      defaults[field.name] = field.default_factory()
  groups: Dict[str, List[HParamDoc]] = {}
  seen = set()
  for klass in cls.__mro__:
    if not dataclasses.is_dataclass(klass) or klass is object:
      continue
    for name, group, description in _class_fields(klass):
      if name in seen or name not in defaults:
        continue
      seen.add(name)
      groups.setdefault(group or klass.__name__, []).append(
          HParamDoc(name, defaults[name], description))
  return list(groups.items())


def format_hparam_help(cls, skip=("model_name", "data_dir"), width: int = 100) -> str:
  """The `--help` text listing every hparam: `name = default  description`,
  grouped; defaults in JSON, as `--hparams` takes them."""
  lines = []
  for group, docs in hparam_docs(cls):
    docs = [d for d in docs if d.name not in skip]
    if not docs:
      continue
    lines.append(f"{group}:")
    for doc in docs:
      head = f"  {doc.name} = {json.dumps(doc.default)}"
      if not doc.description:
        lines.append(head)
        continue
      indent = " " * 36
      text = textwrap.wrap(doc.description, width - len(indent))
      if len(head) < len(indent) - 1:
        lines.append(head.ljust(len(indent)) + text[0])
      else:
        lines.extend([head, indent + text[0]])
      lines.extend(indent + t for t in text[1:])
    lines.append("")
  return "\n".join(lines).rstrip() + "\n"

