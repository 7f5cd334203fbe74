"""Delivery engines: Discord-aware workers behind the cogs (digest fan-out, alert DMs)."""
