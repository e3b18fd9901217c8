"""jaxadd: a sequence-to-sequence LSTM that learns to add numbers written as strings."""

__version__ = "0.1.0"
