"""Write a scenario to a folder: the GED CSV and ``scenario.json``.

Files are written to temporary names in the target folder and renamed into place, so an
interrupted run never leaves a half-written CSV where an importer would find it; if the
manifest cannot be written, the new CSV is removed again.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import tempfile
from pathlib import Path

from tocsin.scenario.ged_format import csv_bytes
from tocsin.scenario.model import Scenario, ScenarioError

MANIFEST_NAME = "scenario.json"
_OUR_CSV = re.compile(r"^ged_synthetic_[a-z]{3}_seed\d+\.csv$")


def _atomic_write(path: Path, data: bytes) -> None:
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.chmod(temporary, 0o644)  # mkstemp makes it private; this is shareable test data
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise


def _previous_events_file(out_dir: Path) -> Path | None:
    """The CSV an earlier scenario in this folder wrote, if its manifest names one of ours."""
    try:
        manifest = json.loads((out_dir / MANIFEST_NAME).read_text(encoding="utf-8"))
        name = manifest["events_file"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if isinstance(name, str) and _OUR_CSV.match(name):
        return out_dir / name
    return None


def write_scenario(scenario: Scenario, out_dir: Path, *, force: bool = False) -> list[Path]:
    """Write the scenario; refuses a non-empty folder unless ``force``.

    With ``force`` only the scenario's own files are replaced (and the CSV an earlier scenario
    there named in its manifest is removed); anything else in the folder is left alone.
    """
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise ScenarioError(f"{out_dir} exists and is not a folder")
    if out_dir.is_dir() and any(out_dir.iterdir()) and not force:
        raise ScenarioError(f"{out_dir} is not empty: choose another folder or pass --force")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ScenarioError(f"cannot create {out_dir}: {exc.strerror}") from exc
    data = csv_bytes(scenario.rows)
    events_path = out_dir / scenario.events_file_name
    manifest = dict(scenario.manifest)
    manifest["events_file"] = events_path.name
    manifest["events_sha256"] = hashlib.sha256(data).hexdigest()
    manifest_bytes = (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode("utf-8")
    previous = _previous_events_file(out_dir) if force else None
    try:
        _atomic_write(events_path, data)
    except OSError as exc:
        raise ScenarioError(f"cannot write to {out_dir}: {exc.strerror}") from exc
    try:
        _atomic_write(out_dir / MANIFEST_NAME, manifest_bytes)
    except OSError as exc:
        with contextlib.suppress(FileNotFoundError):
            events_path.unlink()
        raise ScenarioError(f"cannot write to {out_dir}: {exc.strerror}") from exc
    if previous is not None and previous != events_path:
        with contextlib.suppress(FileNotFoundError):
            previous.unlink()
    return [events_path, out_dir / MANIFEST_NAME]
