"""Bradley-Terry (discriminative) ToolRM trainer: ``toolrm-train bt`` (see ``trainer.py``)."""
