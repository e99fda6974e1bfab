"""`layerlab run` starts its kernels on IPC sockets: no "running over TCP without encryption" warning."""

from pathlib import Path

import nbformat
from nbclient import NotebookClient

from layerlab.course import Module, notebooks

WARNING = "running over TCP without encryption"


def _tiny_module(tmp_path: Path) -> Module:
    src = tmp_path / "lesson" / "99-tiny.py"
    src.parent.mkdir()
    # The kernel runs in the lesson's folder: the cell proves it, as the IPC sockets must not depend on it.
    src.write_text("# %%\nimport os\nprint('cwd', os.getcwd())\n")
    return Module(
        id="99",
        slug="tiny",
        title="Tiny",
        notebook=str(src),
        teaching_minutes=1,
        objectives=["run"],
        key_points=["runs"],
    )


def test_lessons_run_over_ipc_without_the_tcp_warning(tmp_path, capfd):
    m = _tiny_module(tmp_path)
    result = notebooks.execute(m, tmp_path / "out", say=lambda _: None, timeout=60)
    err = capfd.readouterr().err
    assert result.ok, result.error
    executed = nbformat.read(tmp_path / "out" / result.executed, as_version=4)
    assert executed.cells[0].outputs[0]["text"].strip() == f"cwd {tmp_path / 'lesson'}"
    assert WARNING not in err, err[-2000:]


def test_the_default_tcp_kernel_prints_the_warning(tmp_path, capfd):
    # The control: without the IPC config the same kernel warns, so the test above can fail.
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1")])
    NotebookClient(nb, timeout=60, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    assert WARNING in capfd.readouterr().err
