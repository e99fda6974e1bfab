"""Just enough of a Dockerfile parser for static checks: instructions with line numbers.

BuildKit stays the authority on what builds; this exists so a grader can name
the line of a typo, a missing file or a path outside the exercise before a
build spends minutes failing on it.
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass, field

KNOWN = {
    "FROM", "RUN", "CMD", "LABEL", "MAINTAINER", "EXPOSE", "ENV", "ADD", "COPY", "ENTRYPOINT",
    "VOLUME", "USER", "WORKDIR", "ARG", "ONBUILD", "STOPSIGNAL", "HEALTHCHECK", "SHELL",
}  # fmt: skip
_DIRECTIVE = re.compile(r"^#\s*(syntax|escape|check)\s*=", re.I)
_HEREDOC = re.compile(r"<<-?\s*['\"]?(\w+)['\"]?")


@dataclass
class Instruction:
    line: int  # 1-based line where the instruction starts
    keyword: str  # upper case, as BuildKit reads it
    args: str  # the rest, continuation lines joined
    flags: dict[str, str] = field(default_factory=dict)  # --from=..., --chown=...

    def words(self) -> list[str]:
        """Arguments as a list: JSON form when it is one, else shell-split."""
        text = self.args.strip()
        if text.startswith("["):
            try:
                value = json.loads(text)
                if isinstance(value, list):
                    return [str(v) for v in value]
            except json.JSONDecodeError:
                pass
        try:
            return shlex.split(text)
        except ValueError:
            return text.split()

    def sources(self) -> list[str]:
        """COPY/ADD: every argument but the destination."""
        words = self.words()
        return words[:-1] if self.keyword in ("COPY", "ADD") and len(words) >= 2 else []


@dataclass
class Dockerfile:
    instructions: list[Instruction]
    unknown: list[Instruction]  # lines whose keyword BuildKit would reject

    def final_stage(self) -> list[Instruction]:
        start = 0
        for i, ins in enumerate(self.instructions):
            if ins.keyword == "FROM":
                start = i
        return self.instructions[start:]

    def final_base(self) -> str | None:
        """The image the final stage builds on, following `FROM <stage>` back to an image reference.

        ARGs declared before the first FROM are substituted with their defaults; None when the
        reference still holds a variable (a --build-arg decides it) or the stage starts FROM scratch.
        """
        args: dict[str, str] = {}
        stages: dict[str, str] = {}
        base = None
        for ins in self.instructions:
            if ins.keyword == "ARG" and not stages and base is None:
                name, _, default = ins.args.strip().partition("=")
                args[name.strip()] = default.strip().strip("\"'")
            elif ins.keyword == "FROM":
                words = ins.words()
                ref = _ARG_REF.sub(lambda m: args.get(m.group(1) or m.group(2), m.group(0)), words[0]) if words else ""
                ref = stages.get(ref.lower(), ref)
                if len(words) >= 3 and words[1].upper() == "AS":
                    stages[words[2].lower()] = ref
                base = ref
        if base is None or base == "scratch" or "$" in base:
            return None
        return base


_ARG_REF = re.compile(r"\$\{(\w+)\}|\$(\w+)")


def parse(text: str) -> Dockerfile:
    lines = text.splitlines()
    out: list[Instruction] = []
    unknown: list[Instruction] = []
    i = 0
    while i < len(lines):
        raw = lines[i]
        stripped = raw.strip()
        start = i + 1
        i += 1
        if not stripped or stripped.startswith("#"):
            continue
        parts = [stripped]
        # A trailing backslash continues the instruction; comment lines inside are dropped.
        while parts[-1].endswith("\\") and i < len(lines):
            parts[-1] = parts[-1][:-1]
            nxt = lines[i].strip()
            i += 1
            if nxt.startswith("#"):
                parts.append("\\")
                continue
            parts.append(nxt)
        joined = " ".join(p for p in parts if p != "\\").strip()
        heredoc = _HEREDOC.search(joined)
        if heredoc:
            # RUN <<EOF ... EOF: skip the body; it is shell, not instructions.
            end = heredoc.group(1)
            while i < len(lines) and lines[i].strip() != end:
                i += 1
            i += 1
        keyword, _, args = joined.partition(" ")
        flags: dict[str, str] = {}
        rest = args.strip()
        while rest.startswith("--"):
            flag, _, rest = rest.partition(" ")
            name, _, value = flag[2:].partition("=")
            flags[name] = value
            rest = rest.strip()
        ins = Instruction(line=start, keyword=keyword.upper(), args=rest, flags=flags)
        (out if ins.keyword in KNOWN else unknown).append(ins)
    return Dockerfile(out, unknown)
