"""mlposture: an evidence-gathering security scanner for machine-learning repositories."""

__version__ = "0.1.0"
