"""The README's API examples (curl and Python `requests`) run against a live server and do what they say."""

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from recognizer.models import Submission
from recognizer.tests.conftest import canvas_png
from recognizer.tests.factories import UserFactory

README = Path(__file__).resolve().parents[2] / "README.md"
README_URL = "http://127.0.0.1:8000"


def readme_block(name: str) -> str:
    """The fenced code block right after `<!-- readme-test: NAME -->`."""
    match = re.search(rf"<!-- readme-test: {name} -->\s*```\w*\n(.*?)```", README.read_text(), re.DOTALL)
    assert match, f"README has no block marked readme-test: {name}"
    return match.group(1)


@pytest.fixture
def workdir(tmp_path, live_server, shipped_version, monkeypatch):
    """A folder with the example's digit.png (a seven) and blank.png, and the account `ada`."""
    UserFactory(username="ada")
    (tmp_path / "digit.png").write_bytes(
        canvas_png(lambda d: d.line([(70, 50), (210, 50), (120, 240)], fill=(0, 0, 0, 255), width=24))
    )
    (tmp_path / "blank.png").write_bytes(canvas_png(lambda d: None))
    return tmp_path


def run(command: list[str], workdir: Path, live_server) -> list[str]:
    result = subprocess.run(command, cwd=workdir, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_curl_examples(workdir, live_server):
    script = "set -euo pipefail\n" + readme_block("curl").replace(README_URL, live_server.url)
    lines = run(["bash", "-c", script], workdir, live_server)
    single, with_input, batch, least_sure, corrected, detail, deleted, models = lines
    assert json.loads(single)["digit"] == 7
    assert len(json.loads(with_input)["input"]) == 28
    assert [r["status"] for r in json.loads(batch)["results"]] == [201, 422]
    assert json.loads(least_sure)["count"] == 3
    assert json.loads(corrected)["true_digit"] == 1 == json.loads(detail)["corrected_digit"]
    assert deleted == "204"
    assert json.loads(models)["results"][0]["is_active"] is True
    assert Submission.objects.count() == 2


def test_python_example(workdir, live_server):
    script = readme_block("python").replace(README_URL, live_server.url)
    lines = run([sys.executable, "-c", script], workdir, live_server)
    assert lines[0].startswith("7 ") and lines[0].split()[2].startswith("digitnet-")
    assert lines[1] == "422 no_digit"
    assert lines[2].split()[1] == "True"
    assert Submission.objects.get().corrected_digit == 1
