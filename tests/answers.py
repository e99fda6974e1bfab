"""Tests that need the answers carry `@pytest.mark.answers`; a student release deselects exactly those.

The answers are what `layerlab release --student` leaves out (layerlab.grade.student.Answers): solutions/
(reference solutions, fixtures, hidden checks), the lessons' challenge answers, any fixture.json or hidden.yml.
A test needs them when it reads one, directly or through the grader (grading an exercise folder reads its
fixture).

- In a student release (its marker file at the root), tests/conftest.py's plugin deselects the marked tests
  and says so in the header and the summary, with the count: nothing disappears silently, and the student's
  `make test` passes without the answers.
- Everywhere, an audit hook (sys.addaudithook) sees each file a test opens and each folder it lists, from
  the set-up of its fixtures to its teardown. A test that touched an answer without the marker fails, naming
  the path: on the instructor's repository the marker cannot be forgotten, and in a student release the
  failure says why instead of a bare FileNotFoundError. What a test's subprocesses read is not seen: a test
  that runs the grader in a subprocess on a repository exercise carries the marker by hand.
"""

from __future__ import annotations

import ast
import os
import sys
from pathlib import Path

import pytest

from layerlab import course
from layerlab.grade.student import NAMES as _NAMES
from layerlab.grade.student import Answers
from layerlab.ground.settings import REPO, STUDENT_MARKER, student_release

MARKER = "answers"
# The events that name a path a test reads: opening a file, listing a folder (os.walk and glob list too).
EVENTS = frozenset({"open", "os.listdir", "os.scandir"})
_PREFIX = str(REPO) + os.sep

_answers = Answers.of(course.load())  # before the hook is installed: the hook itself must open nothing
_current: pytest.Item | None = None
_seen: dict[str, list[str]] = {}  # nodeid -> answer paths it touched, in order
_deselected: list[str] = []


def answer_path(path: object) -> str | None:
    """The repository-relative path if `path` (as an audit event gives it) is one of the answers, else None."""
    if isinstance(path, bytes):
        path = os.fsdecode(path)
    elif isinstance(path, os.PathLike):
        path = os.fspath(path)
    if not isinstance(path, str):
        return None  # a file descriptor
    full = os.path.normpath(path if os.path.isabs(path) else os.path.join(os.getcwd(), path))
    if not full.startswith(_PREFIX):
        return None
    rel = full[len(_PREFIX) :].replace(os.sep, "/")
    return rel if _answers.why(rel) or _answers.why(rel + "/") else None


# A fixture shared by several tests (module or session scope) reads once, inside the first test that uses it;
# the tests after it read the answers through it all the same. Each such fixture is kept with what it read.
_fixture_reads: dict[str, list[str]] = {}
_setting_up: list[str] = []


def _hook(event: str, args: tuple) -> None:
    if event not in EVENTS or _current is None or not args:
        return
    rel = answer_path(args[0])
    if rel is not None:
        touched = _seen.setdefault(_current.nodeid, [])
        if rel not in touched:
            touched.append(rel)
        for name in _setting_up:
            read = _fixture_reads.setdefault(name, [])
            if rel not in read:
                read.append(rel)


@pytest.hookimpl(hookwrapper=True)
def pytest_fixture_setup(fixturedef: pytest.FixtureDef, request: pytest.FixtureRequest):
    shared = fixturedef.scope != "function"
    if shared:
        _setting_up.append(fixturedef.argname)
    try:
        yield
    finally:
        if shared:
            _setting_up.pop()


def needs_answers(item: pytest.Item) -> bool:
    return item.get_closest_marker(MARKER) is not None


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{MARKER}: reads the answers (solutions/, challenge answers, fixtures, hidden checks); deselected in a "
        "student release (tests/answers.py)",
    )
    sys.addaudithook(_hook)  # for the life of the process: a hook cannot be removed; outside a test it does nothing


def pytest_report_header(config: pytest.Config) -> str | None:
    if student_release():
        return f"student release ({STUDENT_MARKER}): tests marked `{MARKER}` are deselected, the answers are not here"
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not student_release():
        return
    deselected = [i for i in items if needs_answers(i)]
    if deselected:
        items[:] = [i for i in items if not needs_answers(i)]
        config.hook.pytest_deselected(items=deselected)
        _deselected.extend(i.nodeid for i in deselected)


def pytest_terminal_summary(terminalreporter) -> None:  # noqa: ANN001 - pytest's TerminalReporter
    if _deselected:
        terminalreporter.write_line(
            f"student release: {len(_deselected)} test(s) marked `{MARKER}` deselected (they read the answers)"
        )


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None):
    global _current
    _current = item
    try:
        yield
    finally:
        _current = None
        _seen.pop(item.nodeid, None)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    outcome = yield
    report = outcome.get_result()
    touched = list(_seen.get(item.nodeid) or [])
    for name in getattr(item, "fixturenames", ()):
        touched += [r for r in _fixture_reads.get(name, []) if r not in touched]
    # Judged once: at the call, or at a set-up that failed (a fixture that read an answer and broke).
    if not touched or needs_answers(item) or not (call.when == "call" or (call.when == "setup" and report.failed)):
        return
    shown = ", ".join(touched[:3]) + (f" and {len(touched) - 3} more" if len(touched) > 3 else "")
    message = (
        f"this test reads the answers ({shown}) but is not marked @pytest.mark.{MARKER}: a student release, "
        "which has no answers, would run it; mark it (tests/answers.py)"
    )
    if report.passed:
        report.outcome = "failed"
        report.longrepr = message
    else:
        report.sections.append((MARKER, message))


# --- what the audit hook cannot see, read from the tests' source -------------------------------------
# A subprocess's reads, a helper's cached result, a read at import: `unmarked_readers` finds a test that names
# an answer in its own source, or through a helper, constant or fixture of its module (or one it imports
# from another test module), and carries no marker. What it recognises: a path built from REPO (or
# __file__) with a solutions/, fixture.json or hidden.yml part or a challenge's `.solution`; a command
# line with a solutions/ argument; the fixture loader; release's and student's functions called without a
# root of their own (they read the repository's solutions/); grading the course's own exercise (no `fixture=`
# and no `course_file=` of the test's), in the test's process or as `python -m layerlab.cli grade`.

FIXTURE_API = frozenset({"load", "fixture_path", "solution_dir"})  # layerlab.grade.fixture
# Functions of layerlab.grade modules that read the repository's solutions/ unless given a root (second).
ROOTED_API = {"release": frozenset({"expected", "drift", "release", "unpaired"}), "student": frozenset({"write"})}
PROBES = frozenset({"exists", "is_dir", "is_file"})
# Grading with the course's course.yml and no fixture given reads the exercise's recorded fixture.
GRADERS = frozenset({"grade", "grade_folder", "grade_exercise"})
READS = frozenset({"read_text", "read_bytes", "open", "load", "loads"})


def _answer_literal(value: object, command: bool = False) -> bool:
    if not isinstance(value, str):
        return False
    if command:  # a command line (one line of words): one of its words is a path into the answers
        words = value.split()
        one_line = "\n" not in value.strip()
        return one_line and len(words) > 1 and any(w.startswith(("solutions/", "notebooks/solutions/")) for w in words)
    parts = value.strip("/").split("/")
    return "solutions" in parts or parts[-1] in {name for name, _ in _NAMES}


def _chain(node: ast.AST) -> list[ast.AST]:
    """The operands of a `/` chain (REPO / "solutions" / ex), left to right."""
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
        return _chain(node.left) + _chain(node.right)
    return [node]


def _repo_rooted(node: ast.AST) -> bool:
    return any((isinstance(n, ast.Name) and n.id in ("REPO", "__file__")) for n in ast.walk(node))


class _Module:
    def __init__(self, name: str, tree: ast.Module):
        self.name, self.tree = name, tree
        self.fixture_mods: set[str] = set()
        self.fixture_funcs: set[str] = set()
        self.rooted_mods: dict[str, frozenset[str]] = {}  # local name of a ROOTED_API module -> its functions
        self.imported: dict[str, tuple[str, str]] = {}  # local name -> (test module, its name)
        self.parent = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for a in node.names:
                    if a.name == "layerlab.grade.fixture" and a.asname:
                        self.fixture_mods.add(a.asname)
            elif isinstance(node, ast.ImportFrom) and node.module:
                for a in node.names:
                    local = a.asname or a.name
                    if node.module == "layerlab.grade" and a.name == "fixture":
                        self.fixture_mods.add(local)
                    elif node.module == "layerlab.grade" and a.name in ROOTED_API:
                        self.rooted_mods[local] = ROOTED_API[a.name]
                    elif node.module == "layerlab.grade.fixture" and a.name in FIXTURE_API:
                        self.fixture_funcs.add(local)
                    elif not node.level and "." not in node.module:
                        self.imported[local] = (node.module, a.name)

    def direct(self, node: ast.AST) -> bool:
        """Whether `node`'s own source names an answer."""
        for n in ast.walk(node):
            if isinstance(n, ast.BinOp) and isinstance(n.op, ast.Div):
                ops = _chain(n)
                named = any(
                    (isinstance(o, ast.Constant) and _answer_literal(o.value))
                    or (isinstance(o, ast.Attribute) and o.attr == "solution")
                    for o in ops
                )
                up = self.parent.get(n)
                probed = isinstance(up, ast.Attribute) and up.attr in PROBES  # asks whether it is there: no read
                if named and _repo_rooted(ops[0]) and not probed:
                    return True
            elif isinstance(n, ast.Constant) and _answer_literal(n.value, command=True):
                return True
            elif isinstance(n, (ast.List, ast.Tuple)):
                words = [e.value for e in n.elts if isinstance(e, ast.Constant) and isinstance(e.value, str)]
                if "layerlab.cli" in words and "grade" in words and "--autograder" not in words:
                    return True  # `python -m layerlab.cli grade ...` in a subprocess: the course's fixture
            elif isinstance(n, ast.Call):
                f = n.func
                if isinstance(f, ast.Name) and f.id in self.fixture_funcs:
                    return True
                called = f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else ""
                given = {k.arg for k in n.keywords}
                if called in GRADERS and not given & {"fixture", "course_file"}:
                    return True  # the course's own exercise: its fixture is read
                if isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name):
                    if f.value.id in self.fixture_mods and f.attr in FIXTURE_API:
                        return True
                    own_root = len(n.args) > 1 or any(k.arg == "root" for k in n.keywords)
                    if f.attr in self.rooted_mods.get(f.value.id, ()) and not own_root:
                        return True
        return False


def _defs(tree: ast.Module) -> dict[str, ast.AST]:
    out: dict[str, ast.AST] = {}
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            out[node.name] = node
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for t in targets:
                for n in ast.walk(t):
                    if isinstance(n, ast.Name):
                        out[n.id] = node
    return out


def _uses(node: ast.AST) -> set[str]:
    names = {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        names |= {a.arg for a in node.args.args + node.args.kwonlyargs}  # fixtures, by name
    return names


def _marked(decorators: list[ast.expr]) -> bool:
    for d in decorators:
        target = d.func if isinstance(d, ast.Call) else d
        if isinstance(target, ast.Attribute) and target.attr == MARKER:
            return True
    return False


def _module_marked(tree: ast.Module) -> bool:
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "pytestmark" for t in node.targets):
            values = node.value.elts if isinstance(node.value, (ast.List, ast.Tuple)) else [node.value]
            return _marked(list(values))
    return False


def unmarked_readers(tests_dir: Path) -> list[str]:
    """Each test under `tests_dir` that names an answer (see above) without the marker, and each read of an
    answer at import (a student release could not even collect that file); empty when all is well."""
    modules = {
        p.stem: _Module(p.stem, ast.parse(p.read_text(encoding="utf-8"))) for p in sorted(tests_dir.glob("*.py"))
    }
    defs = {name: _defs(m.tree) for name, m in modules.items()}
    flagged = {(name, d) for name, m in modules.items() for d, node in defs[name].items() if m.direct(node)}
    changed = True
    while changed:  # a helper, a constant, a fixture or an imported helper that names an answer, followed
        changed = False
        for name, m in modules.items():
            for d, node in defs[name].items():
                if (name, d) in flagged:
                    continue
                for u in _uses(node):
                    if (name, u) in flagged or m.imported.get(u) in flagged:
                        flagged.add((name, d))
                        changed = True
                        break
    problems = []
    for name, m in modules.items():
        module_marked = _module_marked(m.tree)
        for node in m.tree.body:
            if isinstance(node, (ast.Assign, ast.Expr)) and m.direct(node):
                reads = [n for n in ast.walk(node) if isinstance(n, ast.Call) and getattr(n.func, "attr", "") in READS]
                if reads:
                    problems.append(f"{name}.py:{node.lineno}: reads the answers at import; read them in a marked test")
            tests: list[tuple[ast.AST, list[ast.expr]]] = []
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name.startswith("test"):
                tests.append((node, node.decorator_list))
            elif isinstance(node, ast.ClassDef) and node.name.startswith("Test"):
                tests += [
                    (f, f.decorator_list + node.decorator_list)
                    for f in node.body
                    if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef)) and f.name.startswith("test")
                ]
            for fn, decorators in tests:
                uses = _uses(fn)
                reads_answers = m.direct(fn) or any((name, u) in flagged or m.imported.get(u) in flagged for u in uses)
                if reads_answers and not (module_marked or _marked(decorators)):
                    problems.append(f"{name}.py::{getattr(fn, 'name', '?')} names the answers but is not marked")
    return problems
