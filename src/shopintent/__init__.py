"""shopintent: understand, predict and act on what e-commerce shoppers want."""

__version__ = "0.1.0"
