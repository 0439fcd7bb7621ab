"""The documentation builds, and every example in it works against a real server.

What runs: every fenced block of README.md and docs/**/*.md whose language is `sh` or `python`
(a block of any other language, `yaml` or `text`, is shown, not run; a fence without a language
fails the test, so that no example escapes by accident). The blocks of one page run in order, each
against a fresh `mockserver serve` started for the page on a free port, in a temporary folder of the
page's (where `fixtures/` is the repository's): one block can create a session another uses. The
documented address `http://127.0.0.1:8080` is replaced by the real server's.

- A `sh` block runs in bash with `set -e -o pipefail`, where `curl` checks each answer: a 2xx,
  unless the line that ends the curl command carries a comment with the expected status,
  `# → 401` (the arrow, a space, three digits). A curl that cannot connect fails too.
- A `python` block that defines `test_` functions is a pytest module: it runs with pytest in a
  subprocess, where the plugin starts its own server. Any other `python` block is a script, run
  with the page's server.

An HTML comment on the line before a block changes how it runs (it is invisible on the site):

- `<!-- docs-test: serve ARGS -->`: this block gets a fresh server of its own, started with
  `mockserver serve ARGS` (a control token, `--allowed-host`...);
- `<!-- docs-test: skip REASON -->`: the block is not run (it installs, starts a server in the
  foreground, needs Docker...). Every skipped block is listed in `SKIPPED` below, so the list
  stays short and a new one is a visible decision.
"""

from __future__ import annotations

import contextlib
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from .helpers import ROOT, running_server

DOCUMENTED_BASE = "http://127.0.0.1:8080"
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
RUN = {"sh", "python"}
SHOWN = {"yaml", "text", "graphql", "json"}
BLOCK_TIMEOUT = 60

# every block the docs exempt, by page and reason: keep it short
SKIPPED = {
    ("README.md", "installs the package and starts a server in the foreground"),
    ("README.md", "the test suite itself"),
    ("docs/index.md", "installs the package and starts a server in the foreground"),
    ("docs/control/scenarios.md", "starts a server in the foreground"),
    ("docs/docker.md", "needs Docker"),
    ("docs/docker.md", "needs Docker and a project of your own"),
}

FENCE = re.compile(
    r"^(?:<!-- docs-test: (?P<marker>\w+) ?(?P<argument>.*?) -->\n)?```(?P<language>[^\n`]*)\n(?P<code>.*?)^```$", re.M | re.S
)
EXPECTED = re.compile(r"#.*→ (\d{3})\b")
CURL = re.compile(r"(?<![\w-])curl(?=\s)")

# `curl` as the examples use it, checking the status it got against the one expected (DOC_EXPECT)
CHECKING_CURL = r"""
curl() {
  local body status
  body=$(mktemp)
  status=$(command curl -sS -o "$body" -w '%{http_code}' "$@") || { cat "$body"; rm -f "$body"; echo "curl $* could not be answered" >&2; return 1; }
  cat "$body"
  rm -f "$body"
  local expected=${DOC_EXPECT:-2xx}
  if [[ $expected == 2xx && $status == 2?? ]] || [[ $status == "$expected" ]]; then return 0; fi
  printf '\ncurl %s\nanswered %s; the docs expect %s\n' "$*" "$status" "$expected" >&2
  return 1
}
set -e -o pipefail
"""


@dataclass(frozen=True)
class Block:
    page: str
    line: int
    language: str
    code: str
    marker: str = ""
    argument: str = ""

    @property
    def where(self) -> str:
        return f"{self.page}:{self.line}"

    @property
    def runs(self) -> bool:
        return self.language in RUN and self.marker != "skip"

    @property
    def is_pytest_module(self) -> bool:
        """A python block defining tests: pytest runs it, and the plugin starts its own server."""
        return self.language == "python" and re.search(r"^def test_", self.code, re.M) is not None


def blocks_of(page: Path) -> list[Block]:
    text = page.read_text(encoding="utf-8")
    name = page.relative_to(ROOT).as_posix()
    return [
        Block(
            name,
            text.count("\n", 0, match.start("code")),
            match["language"].strip(),
            match["code"],
            match["marker"] or "",
            match["argument"] or "",
        )
        for match in FENCE.finditer(text)
    ]


def expecting(code: str) -> str:
    """The shell block with `DOC_EXPECT=NNN` before each curl whose command ends in `# → NNN`."""
    lines, command, marked = code.splitlines(), [], []
    for line in lines:
        command.append(line)
        if line.rstrip().endswith("\\"):
            continue
        text = "\n".join(command)
        expected = EXPECTED.search(line)
        if expected and CURL.search(text):
            text = CURL.sub(f"DOC_EXPECT={expected[1]} curl", text, count=1)
        marked.append(text)
        command = []
    return "\n".join(marked + command) + "\n"


def run_shell(block: Block, base: str, folder: Path) -> subprocess.CompletedProcess[str]:
    script = CHECKING_CURL + expecting(block.code.replace(DOCUMENTED_BASE, base))
    return subprocess.run(["bash", "-c", script], cwd=folder, capture_output=True, text=True, timeout=BLOCK_TIMEOUT)


def run_python(block: Block, base: str, folder: Path) -> subprocess.CompletedProcess[str]:
    if block.is_pytest_module:
        module = folder / f"test_example_{block.line}.py"
        module.write_text(block.code, encoding="utf-8")
        command = [sys.executable, "-m", "pytest", "-q", "-p", "no:randomly", "-p", "no:cacheprovider", "-p", "no:xdist", module.name]
    else:
        command = [sys.executable, "-c", block.code.replace(DOCUMENTED_BASE, base)]
    return subprocess.run(command, cwd=folder, capture_output=True, text=True, timeout=BLOCK_TIMEOUT)


class PageServers:
    """The page's server, started at its first block that needs one, and a block's own server."""

    def __init__(self, stack: contextlib.ExitStack) -> None:
        self.stack = stack
        self.shared = ""

    def for_block(self, block: Block) -> str:
        if block.marker == "serve":
            return self.stack.enter_context(running_server("--quiet", *shlex.split(block.argument)))
        if not self.shared:
            self.shared = self.stack.enter_context(running_server("--quiet"))
        return self.shared


def run_blocks(page: Path, folder: Path) -> Iterator[tuple[Block, subprocess.CompletedProcess[str]]]:
    (folder / "fixtures").symlink_to(ROOT / "fixtures")
    with contextlib.ExitStack() as stack:
        servers = PageServers(stack)
        for block in blocks_of(page):
            if not block.runs:
                continue
            base = "" if block.is_pytest_module else servers.for_block(block)
            run = run_shell if block.language == "sh" else run_python
            yield block, run(block, base, folder)


PAGES_WITH_EXAMPLES = [page for page in PAGES if any(block.runs for block in blocks_of(page))]


@pytest.mark.parametrize("page", PAGES_WITH_EXAMPLES, ids=lambda page: page.relative_to(ROOT).as_posix())
def test_every_example_of_the_page_works(page: Path, tmp_path: Path) -> None:
    for block, result in run_blocks(page, tmp_path):
        assert result.returncode == 0, f"the example at {block.where} failed:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"


def test_every_block_says_its_language_and_every_marker_is_known() -> None:
    for page in PAGES:
        for block in blocks_of(page):
            assert block.language in RUN | SHOWN, f"{block.where}: a fence needs a language (one of {sorted(RUN | SHOWN)})"
            assert block.marker in {"", "skip", "serve"}, f"{block.where}: unknown marker {block.marker!r}"
            assert block.marker != "skip" or block.argument, f"{block.where}: a skipped block says why"


def test_the_skipped_examples_are_few_and_listed() -> None:
    skipped = {(block.page, block.argument) for page in PAGES for block in blocks_of(page) if block.marker == "skip"}
    assert skipped == SKIPPED
    assert len(skipped) <= 8


def test_a_curl_gets_the_status_its_comment_expects() -> None:
    code = "curl -s $M/x \\\n  -d '{}'   # → 415: why\ncurl $M/y   # fine\nT=$(curl -s $M/z | jq .)   # → 401\n"
    assert expecting(code) == (
        "DOC_EXPECT=415 curl -s $M/x \\\n  -d '{}'   # → 415: why\ncurl $M/y   # fine\nT=$(DOC_EXPECT=401 curl -s $M/z | jq .)   # → 401\n"
    )


def test_the_site_builds_strictly(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-4000:]
    assert (tmp_path / "site" / "index.html").is_file()


def test_the_readme_links_to_pages_that_exist() -> None:
    """The README is read on the forge, outside the site: its relative links are checked here."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    targets = re.findall(r"\]\((?!https?:)([^)#]+)", readme)
    assert targets
    assert [target for target in targets if not (ROOT / target).exists()] == []
