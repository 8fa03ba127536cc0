"""Register the shipped checkpoint as a model version and activate it when nothing is active; idempotent."""

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from recognizer import services
from recognizer.models import ModelVersion


class Command(BaseCommand):
    help = "Register settings.DIGITVISION_CHECKPOINT as a model version and activate it if no version is active."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--checkpoint", type=Path, default=None, help="model checkpoint (default: settings.DIGITVISION_CHECKPOINT)"
        )

    def handle(self, *args, checkpoint: Path | None, **options) -> None:
        path = checkpoint or Path(settings.DIGITVISION_CHECKPOINT)
        if not path.is_file():
            raise CommandError(f"model checkpoint {path} not found: set DIGITVISION_CHECKPOINT or pass --checkpoint")
        existed = set(ModelVersion.objects.values_list("pk", flat=True))
        active_before = ModelVersion.objects.filter(is_active=True).first()
        version = services.model_version_register(path=path, activate=active_before is None)

        registered = "registered" if version.pk not in existed else "already registered"
        self.stdout.write(f"model version {version.name} {registered} ({path})")
        if active_before is None:
            self.stdout.write(self.style.SUCCESS(f"activated {version.name}"))
        else:
            self.stdout.write(f"active model version is {active_before.name}; left unchanged")
