"""/follow: authors whose new papers arrive with a person's alerts. Every reply is private."""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.errors import UserError
from bot.models import Author
from bot.store.base import MAX_FOLLOWS
from cogs.ui.links import escape_label
from cogs.ui.render import clip

if TYPE_CHECKING:
    from bot.client import Paperboy

log = logging.getLogger(__name__)

CHOICES_MAX = 25
CHOICE_MAX = 100  # Discord's limit on a choice's name and value
MIN_PREFIX = 2
# How a suggestion names an author who claimed their papers on HF: "Wei Li (@weili)".
_WITH_ACCOUNT = re.compile(r"(?P<name>.+?) \(@(?P<user>[A-Za-z0-9][A-Za-z0-9_.-]{0,95})\)")


def author_value(author: Author) -> str:
    """What a suggestion puts in the option: the name, and the account when there is one."""
    return f"{author.name} (@{author.hf_user})" if author.hf_user else author.name


def parse_author(text: str) -> Author:
    """An author as typed or picked: "Name" or "Name (@account)"."""
    text = " ".join(text.split())
    m = _WITH_ACCOUNT.fullmatch(text)
    return Author(m["name"], m["user"]) if m else Author(text)


def shown(author: Author) -> str:
    """An author's name for a message (escaped), with the HF account if any."""
    name = f"**{escape_label(author.name)}**"
    return f"{name} (@{escape_label(author.hf_user)})" if author.hf_user else name


def _choice(author: Author) -> app_commands.Choice[str]:
    value = author_value(author)
    papers = f" · {author.papers} paper{'s' if author.papers != 1 else ''}"
    name = clip(value, CHOICE_MAX - len(papers)) + papers
    return app_commands.Choice(name=name, value=value[:CHOICE_MAX])


class Follow(commands.GroupCog, group_name="follow", group_description="Authors you follow"):
    """Follow authors; their new papers are matched and delivered with the alerts."""

    def __init__(self, bot: Paperboy) -> None:
        self.bot = bot

    async def _reply(self, interaction: discord.Interaction, text: str) -> None:
        if interaction.response.is_done():
            await interaction.followup.send(text[:2000], ephemeral=True)
        else:
            await interaction.response.send_message(text[:2000], ephemeral=True)

    @app_commands.command(name="add", description="Get an author's new papers with your alerts")
    @app_commands.describe(author="The author's name; pick from the suggestions")
    async def add(
        self, interaction: discord.Interaction, author: app_commands.Range[str, 1, 200]
    ) -> None:
        wanted = await self._resolve(parse_author(author))
        follow, added = await self.bot.store.add_follow(interaction.user.id, wanted)
        if not added:
            await self._reply(interaction, f"You already follow {shown(follow.author)}.")
            return
        log.info("user %s follows an author (%d papers)", interaction.user.id, wanted.papers)
        await self._reply(
            interaction,
            f"Following {shown(wanted)} ({wanted.papers} stored papers). Their new papers"
            " arrive with your alerts (by DM), marked “new paper by …”.",
        )

    async def _resolve(self, typed: Author) -> Author:
        """The stored author meant: by account when given, else the unclaimed credits of the
        name, else the one account that claimed papers under it."""
        store = self.bot.store
        found = await store.find_author(typed.name, typed.hf_user)
        if found is not None:
            return found
        if typed.hf_user is None:
            same = [
                a
                for a in await store.authors_starting(typed.name, CHOICES_MAX)
                if a.name.casefold() == typed.name.casefold()
            ]
            if len(same) == 1:
                return same[0]
            if same:
                raise UserError(
                    f"{len(same)} people called {shown(typed)} claimed papers on Hugging"
                    " Face: pick the one you mean from the suggestions."
                )
        raise UserError(
            f"No stored paper is by {shown(typed)}. Check the spelling, or pick an author from"
            " the suggestions."
        )

    @add.autocomplete("author")
    async def author_suggestions(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        """Stored authors whose name or last name starts as typed, most papers first."""
        typed = " ".join(current.split())[:100]
        if len(typed) < MIN_PREFIX:
            return []
        found = await self.bot.store.authors_starting(typed, CHOICES_MAX)
        return [_choice(a) for a in found]

    @app_commands.command(name="list", description="The authors you follow")
    async def list_(self, interaction: discord.Interaction) -> None:
        follows = await self.bot.store.user_follows(interaction.user.id)
        if not follows:
            await self._reply(interaction, "You follow no authors. Add one with /follow add.")
            return
        lines = [f"You follow {len(follows)} of at most {MAX_FOLLOWS} authors:"]
        lines += [f"• {shown(f.author)}" for f in follows]
        await self._reply(interaction, "\n".join(lines))

    @app_commands.command(name="remove", description="Stop following an author")
    @app_commands.describe(author="An author you follow; pick from the suggestions")
    async def remove(
        self, interaction: discord.Interaction, author: app_commands.Range[str, 1, 200]
    ) -> None:
        user_id = interaction.user.id
        follows = await self.bot.store.user_follows(user_id)
        typed = parse_author(author)
        match = [
            f
            for f in follows
            if f.author.name.casefold() == typed.name.casefold()
            and (typed.hf_user is None or f.author.hf_user == typed.hf_user)
        ]
        if len(match) != 1:
            hint = "several of them: pick one" if match else "not one of them: see /follow list"
            raise UserError(f"{shown(typed)} is {hint} of the authors you follow.")
        await self.bot.store.remove_follow(user_id, match[0].id)
        await self._reply(interaction, f"You no longer follow {shown(match[0].author)}.")

    @remove.autocomplete("author")
    async def followed_suggestions(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        """The person's own followed authors (only theirs), filtered by what is typed."""
        typed = current.casefold().strip()
        follows = await self.bot.store.user_follows(interaction.user.id)
        return [
            app_commands.Choice(name=clip(author_value(f.author), CHOICE_MAX), value=value)
            for f in follows
            if typed in (value := author_value(f.author)[:CHOICE_MAX]).casefold()
        ][:CHOICES_MAX]


async def setup(bot: Paperboy) -> None:
    await bot.add_cog(Follow(bot))
