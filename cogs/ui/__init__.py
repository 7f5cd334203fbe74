"""Shared Discord UI pieces (embeds, views) used by the cogs; not cogs themselves."""
