"""Slash-command cogs: thin adapters from interactions to bot/ and back to embeds."""
