"""Drop a Dockerfile's `# syntax=` directive for offline builds, keeping every line number.

With `# syntax=docker/dockerfile:1` BuildKit pulls that frontend image before
the first step, so offline every build fails. The engine's built-in Dockerfile
frontend understands what the course uses (heredocs, cache/secret mounts,
COPY --link), so offline we build a copy without the directive. The rules
below follow BuildKit's directive parser (frontend/dockerfile/parser/directives.go).
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

# BuildKit knows only these; any other `# key=value` line ends the directives, like a comment.
KNOWN = frozenset({"syntax", "escape", "check"})
# BuildKit's pattern, applied after the `#` and the spaces that follow it.
_DIRECTIVE = re.compile(r"([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$", re.ASCII)
REPLACED = "# layerlab: offline, `# syntax={value}` dropped here; the engine's built-in Dockerfile frontend builds this"


def _lines(text: str) -> list[str]:
    # Lines with their endings; only LF ends one, as for BuildKit (str.splitlines knows more).
    parts = text.split("\n")
    return [p + "\n" for p in parts[:-1]] + ([parts[-1]] if parts[-1] else [])


def _ending(line: str) -> str:
    return line[len(line.rstrip("\r\n")) :]


def _parse(line: str) -> tuple[str, str] | None:
    if not line.startswith("#"):
        return None
    m = _DIRECTIVE.match(line[1:].lstrip().rstrip("\r\n"))
    return (m.group(1).lower(), m.group(2)) if m else None


def split_directives(text: str) -> tuple[str, list[tuple[str, str, str]], str]:
    """(prefix, directives, rest): each directive as (lower-case key, value, its line as written).

    The prefix is what BuildKit skips before it looks for `syntax`: a byte-order mark, a `#!` first line.
    Directives end at the first line that is not one (a blank line, another comment, an instruction)
    and at a repeated key (BuildKit rejects that one).
    """
    prefix = ""
    if text.startswith("\ufeff"):
        prefix, text = "\ufeff", text[1:]
    lines = _lines(text)
    if lines and lines[0].startswith("#!"):
        prefix += lines.pop(0)
    directives: list[tuple[str, str, str]] = []
    for line in lines:
        parsed = _parse(line)
        if parsed is None or parsed[0] not in KNOWN or any(parsed[0] == d[0] for d in directives):
            break
        directives.append((*parsed, line))
    return prefix, directives, "".join(lines[len(directives) :])


def without_syntax(text: str) -> tuple[str, str | None]:
    """The text with its `syntax` directive turned into a comment after the other directives, and its value.

    Same number of lines, every instruction on its line; `# escape=` and `# check=` stay directives.
    Without a `syntax` directive: the text unchanged and None.
    """
    prefix, directives, rest = split_directives(text)
    syntax = next((d for d in directives if d[0] == "syntax"), None)
    if syntax is None:
        return text, None
    bodies = [d[2].rstrip("\r\n") for d in directives if d is not syntax] + [REPLACED.format(value=syntax[1])]
    # Each position keeps its own line ending, so a last line without one stays the last line.
    head = "".join(body + _ending(d[2]) for body, d in zip(bodies, directives))
    return prefix + head + rest, syntax[1]


def read(dockerfile: Path) -> str:
    # surrogateescape: bytes that are not UTF-8 go back out exactly as they came in.
    return dockerfile.read_bytes().decode("utf-8", "surrogateescape")


def write_copy(dockerfile: Path, text: str, dest: Path) -> Path:
    """Write `text` as `dockerfile`'s namesake in the directory `dest`, with its `<name>.dockerignore` if any.

    BuildKit reads a `<name>.dockerignore` beside the Dockerfile before the
    context's .dockerignore, so it has to come along under the same name.
    """
    out = dest / dockerfile.name
    out.write_bytes(text.encode("utf-8", "surrogateescape"))
    ignore = dockerfile.with_name(dockerfile.name + ".dockerignore")
    if ignore.is_file():
        shutil.copyfile(ignore, dest / ignore.name)
    return out
