"""Start the explorer: ``streamlit run frontend/app.py`` in a child process.

The database URL travels in the child's environment (``$SCREENING_DATABASE_URL``), never
on its command line, so a password in it stays out of process listings and no shell
quoting is involved.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from frontend.data import DATABASE_ENV

APP_PATH = Path(__file__).resolve().parent / "app.py"
_PROJECT_ROOT = APP_PATH.parent.parent


def explorer_command(port: int, address: str = "localhost") -> list[str]:
    """The ``streamlit run`` argv: headless, no usage statistics, no file watcher."""
    return [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(APP_PATH),
        "--server.port",
        str(port),
        "--server.address",
        address,
        "--server.headless",
        "true",
        "--server.fileWatcherType",
        "none",
        "--client.toolbarMode",
        "viewer",
        "--browser.gatherUsageStats",
        "false",
    ]


def explorer_env(database_url: str) -> dict[str, str]:
    """This process's environment plus the URL and the project root on ``PYTHONPATH``."""
    env = dict(os.environ)
    env[DATABASE_ENV] = database_url
    paths = [str(_PROJECT_ROOT), *filter(None, env.get("PYTHONPATH", "").split(os.pathsep))]
    env["PYTHONPATH"] = os.pathsep.join(paths)
    return env


def run_explorer(database_url: str, port: int, *, address: str = "localhost") -> int:
    """Serve the explorer on ``address:port`` until interrupted; return streamlit's exit code."""
    process = subprocess.Popen(explorer_command(port, address), env=explorer_env(database_url))
    try:
        return process.wait()
    except KeyboardInterrupt:
        process.terminate()
        return process.wait()
