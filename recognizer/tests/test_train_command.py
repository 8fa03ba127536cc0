"""The `train` command hands every argument, options included, to ml.train.main."""

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from ml import train
from ml.data import MnistUnavailable


def test_arguments_pass_through_unchanged(monkeypatch):
    seen = []
    monkeypatch.setattr(train, "main", lambda argv: seen.append(argv) or 0)

    call_command("train", "--epochs", "2", "--limit", "500", "--out", "/tmp/x.pt", stdout=io.StringIO())

    assert seen == [["--epochs", "2", "--limit", "500", "--out", "/tmp/x.pt"]]


def test_missing_mnist_is_a_command_error(monkeypatch):
    def no_data(argv):
        raise MnistUnavailable("MNIST files missing")

    monkeypatch.setattr(train, "main", no_data)

    with pytest.raises(CommandError, match="fetch_mnist"):
        call_command("train", stdout=io.StringIO())
