"""The ground floor: one module reads the environment; one exception makes a lesson fall back to a recording."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from layerlab.engine import EngineUnavailable, replay, vm
from layerlab.engine.result import Replayable
from layerlab.ground import settings
from layerlab.ground.errors import Unavailable

SRC = Path(__file__).resolve().parent.parent / "src" / "layerlab"
# Reads that decide nothing: `layerlab run` sets LAYERLAB_HEADLESS for the kernels it starts, then puts back
# what was there before (course/notebooks.py reads it only to restore it).
RESTORES = {"course/notebooks.py": ["LAYERLAB_HEADLESS"]}
UNRESOLVED = "<a name this test cannot resolve>"


def _constants(tree: ast.Module) -> dict[str, ast.expr]:
    """The module's top-level names and what they are bound to: NAME = ..., and NAME, OTHER = ..., ...."""
    out: dict[str, ast.expr] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            t, v = node.targets[0], node.value
            both = isinstance(t, ast.Tuple) and isinstance(v, ast.Tuple)
            pairs = zip(t.elts, v.elts, strict=False) if both else [(t, v)]
            for name, value in pairs:
                if isinstance(name, ast.Name):
                    out[name.id] = value
    return out


def _module_file(src: Path, dotted: str) -> Path | None:
    """The file of `layerlab.x.y` under `src` (the package folder), or None for a name that is no module."""
    rel = Path(*dotted.split(".")[1:])
    for p in (src / rel.with_suffix(".py"), src / rel / "__init__.py"):
        if p.is_file():
            return p
    return None


def _resolver(src: Path, path: Path, seen: frozenset[Path] = frozenset()):
    """Turn the key of an environment access into a string: a literal, an f-string's literal start, a module
    constant, a constant imported from another layerlab module (`from .x import NAME`) or read through one
    (`settings.HEADLESS_ENV`, `progress.HEADLESS_ENV`, which is settings' again)."""
    tree = ast.parse(path.read_text())
    consts = _constants(tree)
    here = path.relative_to(src.parent).with_suffix("").parts
    package = here[:-1]
    modules: dict[str, str] = {}  # local name -> dotted layerlab module
    names: dict[str, tuple[str, str]] = {}  # local name -> (dotted module, name there)
    for node in tree.body:
        if isinstance(node, ast.ImportFrom):
            base = (
                ".".join(package[: len(package) - node.level + 1] + ((node.module,) if node.module else ()))
                if node.level
                else (node.module or "")
            )
            for a in node.names:
                if _module_file(src, f"{base}.{a.name}"):
                    modules[a.asname or a.name] = f"{base}.{a.name}"
                else:
                    names[a.asname or a.name] = (base, a.name)
        elif isinstance(node, ast.Import):
            for a in node.names:
                modules[a.asname or a.name] = a.name

    def elsewhere(dotted: str, name: str) -> str | None:
        f = _module_file(src, dotted) if dotted.startswith("layerlab") else None
        if f is None or f in seen:
            return None
        r = _resolver(src, f, seen | {path})
        return r(ast.Name(id=name))

    def resolve(key: ast.expr) -> str | None:
        if isinstance(key, ast.Constant) and isinstance(key.value, str):
            return key.value
        if isinstance(key, ast.JoinedStr):
            first = key.values[0] if key.values else None
            return first.value if isinstance(first, ast.Constant) and isinstance(first.value, str) else None
        if isinstance(key, ast.Name):
            if key.id in consts and consts[key.id] is not key:
                bound = consts.pop(key.id)  # popped while resolved: NAME = NAME + "x" cannot loop
                try:
                    return resolve(bound)
                finally:
                    consts[key.id] = bound
            if key.id in names:
                return elsewhere(*names[key.id])
            return None
        if isinstance(key, ast.Attribute) and isinstance(key.value, ast.Name) and key.value.id in modules:
            return elsewhere(modules[key.value.id], key.attr)
        return None

    return resolve


def _is_environ(node: ast.expr) -> bool:
    return (isinstance(node, ast.Attribute) and node.attr == "environ") or (
        isinstance(node, ast.Name) and node.id == "environ"
    )


def environment_reads(src: Path, path: Path) -> list[str]:
    """The variables a module reads, however it names them: os.environ.get / [ ] / setdefault, os.getenv, `in`."""
    resolve = _resolver(src, path)
    keys: list[ast.expr] = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Call) and node.args and isinstance(node.func, ast.Attribute):
            f = node.func
            if (f.attr in ("get", "setdefault") and _is_environ(f.value)) or f.attr == "getenv":
                keys.append(node.args[0])
        elif isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Load) and _is_environ(node.value):
            keys.append(node.slice)
        elif (
            isinstance(node, ast.Compare)
            and any(isinstance(o, (ast.In, ast.NotIn)) for o in node.ops)
            and any(_is_environ(c) for c in node.comparators)
        ):
            keys.append(node.left)
    return sorted({r if (r := resolve(k)) is not None else UNRESOLVED for k in keys})


def layerlab_readers(src: Path) -> dict[str, list[str]]:
    found = {}
    for p in sorted(src.rglob("*.py")):
        if p == src / "ground" / "settings.py":
            continue
        rel = str(p.relative_to(src))
        read = [
            v
            for v in environment_reads(src, p)
            if (v.startswith("LAYERLAB_") or v == UNRESOLVED) and v not in RESTORES.get(rel, [])
        ]
        if read:
            found[rel] = read
    return found


def test_only_settings_reads_a_layerlab_variable():
    assert layerlab_readers(SRC) == {}


def test_a_read_through_a_constant_is_seen(tmp_path):
    """engine/hostpath.py read LAYERLAB_WORKSPACE through WORKSPACE_ENV = "LAYERLAB_WORKSPACE", which a
    match on string literals missed; so does a constant of another module, and a key nobody can name."""
    pkg = tmp_path / "layerlab"
    (pkg / "ground").mkdir(parents=True)
    (pkg / "ground" / "names.py").write_text('CACHE_ENV = "LAYERLAB_CACHE"\n')
    (pkg / "hostpath.py").write_text(
        "import os\nWORKSPACE_ENV, HOST_ENV = 'LAYERLAB_WORKSPACE', 'LAYERLAB_HOST_WORKSPACE'\n"
        "def f():\n    return os.environ.get(WORKSPACE_ENV), os.getenv(HOST_ENV)\n"
    )
    (pkg / "other.py").write_text(
        "import os\nfrom .ground import names\nfrom .ground.names import CACHE_ENV as C\n"
        "def g(k):\n    return names.CACHE_ENV in os.environ, os.environ[C], os.environ[k]\n"
    )
    (pkg / "fine.py").write_text(
        "import os\ndef h():\n    os.environ['LAYERLAB_RECORD'] = '1'\n    return os.environ.get('DOCKER_HOST')\n"
    )
    assert layerlab_readers(pkg) == {
        "hostpath.py": ["LAYERLAB_HOST_WORKSPACE", "LAYERLAB_WORKSPACE"],
        "other.py": ["<a name this test cannot resolve>", "LAYERLAB_CACHE"],
    }


def test_every_variable_read_is_in_the_settings_table():
    text = (SRC / "ground" / "settings.py").read_text()
    table = set(re.findall(r"^\| (LAYERLAB_\w+)", text, re.M))
    read = set(re.findall(r'"(LAYERLAB_[A-Z_]+?)_?"', text)) - {"LAYERLAB_BASE"}
    assert read <= table, read - table


def test_settings_are_read_when_asked(monkeypatch, tmp_path):
    monkeypatch.delenv("LAYERLAB_REPLAY", raising=False)
    monkeypatch.delenv("LAYERLAB_RECORD", raising=False)
    assert settings.replay_mode() == "live"
    monkeypatch.setenv("LAYERLAB_RECORD", "1")
    assert settings.replay_mode() == "record"
    monkeypatch.setenv("LAYERLAB_REPLAY", "1")
    assert settings.replay_mode() == "replay"  # replaying wins: it never calls the engine
    monkeypatch.setenv("LAYERLAB_CACHE", str(tmp_path))
    assert settings.cache_dir() == tmp_path
    monkeypatch.delenv("LAYERLAB_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert settings.cache_dir() == tmp_path / "xdg" / "layerlab"
    monkeypatch.setenv("LAYERLAB_REGISTRY_PORT", "5001")
    assert settings.registry_port() == 5001
    monkeypatch.setenv("LAYERLAB_VM_ACCEL", "warp")
    assert settings.vm_accel() is None
    assert (settings.REPO / "course.yml") == settings.COURSE_FILE and settings.COURSE_FILE.is_file()


def test_engine_and_vm_failures_are_both_unavailable_and_neither_is_the_other():
    assert issubclass(EngineUnavailable, Unavailable) and issubclass(vm.VMUnavailable, Unavailable)
    assert not issubclass(vm.VMUnavailable, EngineUnavailable), "a missing qemu is not a missing engine"


class _Result(Replayable):
    """A result as replay stores it (model_dump / model_validate)."""

    value: int


@pytest.mark.parametrize("error", [Unavailable, EngineUnavailable, vm.VMUnavailable])
def test_the_replay_fallback_catches_whatever_is_unavailable(monkeypatch, tmp_path, error):
    monkeypatch.setenv("LAYERLAB_REPLAY_DIR", str(tmp_path))
    monkeypatch.delenv("LAYERLAB_REPLAY", raising=False)
    monkeypatch.delenv("LAYERLAB_RECORD", raising=False)
    key = f"fallback-{error.__name__}"
    replay.save("test", f"{key}#1", _Result(value=7))

    @replay.replayable("test", lambda: key, _Result)
    def measure() -> _Result:
        raise error("nothing answers here")

    assert measure().value == 7
    with pytest.raises(error):
        measure()  # no second recording: the failure is the learner's to see
