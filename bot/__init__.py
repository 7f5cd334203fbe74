"""paperboy: Hugging Face Daily Papers, delivered to Discord."""

__version__ = "0.1.0"
PROJECT_URL = "https://github.com/paperboy-bot/paperboy"
