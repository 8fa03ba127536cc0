"""Database models; Submission, ModelVersion and TrainingRun arrive with the web issue."""
