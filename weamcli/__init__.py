"""weam: WEAM continual pre-training and zero-shot cross-lingual evaluation for encoders."""

__version__ = "0.1.0"
