"""App configuration for recognizer."""

from django.apps import AppConfig


class RecognizerConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "recognizer"
    verbose_name = "Digit recognizer"

    def ready(self) -> None:
        from ml.decode import register_image_formats
        from recognizer import signals

        # Every Image.open in the web app (stored originals, previews), not only ml's decoding, reads HEIC.
        register_image_formats()
        signals.connect()
