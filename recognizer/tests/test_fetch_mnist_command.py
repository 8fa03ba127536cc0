"""The `fetch_mnist` command turns an unavailable MNIST into a clear CommandError, without the network."""

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from ml import data


def test_all_sources_failing_is_a_command_error(monkeypatch, tmp_path):
    def offline(root, names, timeout):
        raise OSError("network is unreachable")

    def wrong_bytes(root, names, timeout):
        raise data.MnistUnavailable("sha256 does not match")

    monkeypatch.setattr(data, "SOURCES", {"mirror A": offline, "package B": wrong_bytes})

    with pytest.raises(CommandError) as excinfo:
        call_command("fetch_mnist", "--root", str(tmp_path / "raw"), "--timeout", "1", stdout=io.StringIO())

    message = str(excinfo.value)
    assert "Could not obtain MNIST" in message
    assert "mirror A: network is unreachable" in message
    assert "package B: sha256 does not match" in message
    assert str(tmp_path / "raw") in message
