"""tanya: ask questions of Indonesian news articles, get the passages that answer them."""

__version__ = "0.1.0"
