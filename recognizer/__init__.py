"""The DigitVision Django app: submissions, model versions and the commands around the ml package."""
