"""The command tree with paperboy's one error handler for every slash command."""

from __future__ import annotations

import logging
import math

import discord
from discord import app_commands

from bot.errors import PaperboyError, StoreUnavailable, UserError

log = logging.getLogger(__name__)

UNKNOWN_INTERACTION = 10062
APOLOGY = "Sorry, something went wrong on our side. It has been logged; please try again later."


def describe_check_failure(error: app_commands.AppCommandError) -> str | None:
    """A short message for the check failures discord.py raises, or None."""
    if isinstance(error, app_commands.CommandOnCooldown):
        return f"Slow down a little: try again in {math.ceil(error.retry_after)} s."
    if isinstance(error, app_commands.MissingPermissions):
        needed = ", ".join(p.replace("_", " ") for p in error.missing_permissions)
        return f"You need the {needed} permission to do that."
    if isinstance(error, app_commands.BotMissingPermissions):
        needed = ", ".join(p.replace("_", " ") for p in error.missing_permissions)
        return f"I need the {needed} permission here to do that."
    if isinstance(error, app_commands.NoPrivateMessage):
        return "That command only works in a server."
    if isinstance(error, app_commands.CheckFailure):
        return "You can't use that command here."
    if isinstance(error, app_commands.TransformerError):
        return f"I couldn't understand {error.value!r} for that option."
    return None


class PaperboyTree(app_commands.CommandTree):
    """Maps errors to short ephemeral replies; unexpected ones are logged with context."""

    async def on_error(
        self, interaction: discord.Interaction, error: app_commands.AppCommandError
    ) -> None:
        original = error.original if isinstance(error, app_commands.CommandInvokeError) else error
        if isinstance(original, discord.NotFound) and original.code == UNKNOWN_INTERACTION:
            # Answered after Discord's 3 s deadline (an overloaded loop): nothing can reach
            # the person any more, and it is not a bug in the command.
            log.warning("/%s answered too late for Discord; dropped", _name(interaction))
            return
        message = describe_check_failure(error)
        if message is None and isinstance(original, UserError):
            message = str(original)
        if message is not None:
            log.debug("user error in /%s: %s", _name(interaction), message)
        elif isinstance(original, StoreUnavailable):
            # The store already logged the outage; the person may simply try again.
            log.warning("/%s not answered: the store is unreachable", _name(interaction))
            message = str(original)
        else:
            log.error(
                "unexpected error in /%s (user %s, guild %s)",
                _name(interaction),
                interaction.user.id if interaction.user else None,
                interaction.guild_id,
                exc_info=original,
            )
            message = str(original) if isinstance(original, PaperboyError) else APOLOGY
        await send_ephemeral(interaction, message)


async def send_ephemeral(interaction: discord.Interaction, message: str) -> None:
    """Answer privately, whether or not the interaction was already acknowledged."""
    try:
        if interaction.response.is_done():
            await interaction.followup.send(message, ephemeral=True)
        else:
            await interaction.response.send_message(message, ephemeral=True)
    except discord.HTTPException as e:
        log.warning("could not deliver an error message for /%s: %s", _name(interaction), e)


def _name(interaction: discord.Interaction) -> str:
    command = interaction.command
    return command.qualified_name if command is not None else "?"
