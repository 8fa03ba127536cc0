"""Train DigitNet on MNIST; every argument goes to ml.train (see `manage.py train --help`)."""

from django.core.management.base import BaseCommand, CommandError

from ml import train
from ml.data import MnistUnavailable


class Command(BaseCommand):
    help = "Train DigitNet on MNIST. All arguments are passed to `python -m ml.train` (try --help)."

    def create_parser(self, prog_name: str, subcommand: str, **kwargs):
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        parse_base_options = parser.parse_args

        # ml.train owns the options (--epochs, --out, --help ...); Django's parser would reject them, and
        # argparse.REMAINDER does not capture an argument list that starts with an option.
        def parse_args(args=None, namespace=None):
            namespace = parse_base_options([], namespace)
            namespace.args = list(args or ())
            return namespace

        parser.parse_args = parse_args
        return parser

    def handle(self, *args: str, **options) -> None:
        try:
            returncode = train.main(list(args))
        except MnistUnavailable as exc:
            raise CommandError(f"{exc}\nRun: python manage.py fetch_mnist") from exc
        if returncode:
            raise CommandError(f"training failed (exit status {returncode})", returncode=returncode)
