"""The documentation is self-contained: every link resolves, and nothing cites
a document the repository does not hold."""

import pathlib
import re
import subprocess

import pytest

from tests.conftest import ROOT

# Relative markdown links: [text](target) or [text](target#anchor).
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
# The specification the project was written from lives outside the repository.
EXTERNAL_SPEC = "original_electra" + ".md"


def markdown_files():
  return sorted([ROOT / "README.md", *(ROOT / "docs").rglob("*.md"),
                 *(ROOT / "configs").rglob("*.md"), *(ROOT / "data").rglob("*.md")])


def tracked_files():
  listed = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True)
  if listed.returncode:
    pytest.skip("not a git checkout")
  return [ROOT / name for name in listed.stdout.splitlines()]


def anchors(path: pathlib.Path):
  """GitHub's heading anchors of a markdown file."""
  found = set()
  for line in path.read_text(encoding="utf-8").splitlines():
    match = re.match(r"#+\s+(.*)", line)
    if match:
      slug = re.sub(r"[^\w\- ]", "", match.group(1).strip().lower()).replace(" ", "-")
      found.add(slug)
  return found


def test_the_anchor_rule_matches_github():
  assert "set-up-demo-tests" in {
      re.sub(r"[^\w\- ]", "", "Set up, demo, tests".lower()).replace(" ", "-")}


@pytest.mark.parametrize("path", markdown_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_resolves(path):
  broken = []
  for target in LINK.findall(path.read_text(encoding="utf-8")):
    if re.match(r"[a-z]+://|mailto:", target):
      continue
    file_part, _, anchor = target.partition("#")
    linked = (path.parent / file_part).resolve() if file_part else path
    if not linked.exists():
      broken.append(target)
    elif anchor and linked.suffix == ".md" and anchor not in anchors(linked):
      broken.append(target)
  assert broken == []


def test_docs_exist_for_the_architecture_faithfulness_and_figures():
  for name in ("architecture.md", "faithfulness.md", "figures.md"):
    assert (ROOT / "docs" / name).exists(), name


def test_nothing_cites_the_external_specification():
  citing = [str(p.relative_to(ROOT)) for p in tracked_files()
            if p.is_file() and p.suffix in (".py", ".md", ".json", ".sh", ".toml", ".txt", "")
            and EXTERNAL_SPEC in p.read_text(encoding="utf-8", errors="replace")]
  assert citing == []
