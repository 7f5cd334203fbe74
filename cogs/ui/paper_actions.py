"""Controls on every paper a person sees: Save, "tell me when code is out", "More like this"...

A feature cog offers an action by listing it in its `paper_actions` and answering it in
`paper_action`. Cards get one control per action: a button on a one-paper card, a select
menu ("Save a paper…") on a message that shows several. The controls are dynamic items, so
they work after a restart, and a control names only an action and a paper: whoever clicks
it acts for themselves, so a replayed or crafted custom id can never reach another person's
data. The paper id is checked (an arXiv id) before any cog sees it.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import discord
from discord.ext import commands

from bot.arxiv import normalise_id
from bot.errors import UserError
from bot.tree import send_ephemeral

log = logging.getLogger(__name__)

OPTIONS_MAX = 25  # a select menu offers at most 25 options
ROWS_MAX = 5  # action rows in one message
LABEL_MAX = 80  # button labels and select option labels
PLACEHOLDER_MAX = 150
UNAVAILABLE = "That control is not available right now. Try the slash command instead."
BAD_PAPER = "That control names no paper I know."


@dataclass(frozen=True, slots=True)
class PaperAction:
    """What a cog offers on paper cards: `name` goes in custom ids ([a-z]+), `button` labels a
    one-paper card's button, `placeholder` a many-paper message's select menu."""

    name: str
    button: str
    placeholder: str
    emoji: str | None = None


@runtime_checkable
class PaperActionCog(Protocol):
    """A cog that offers actions on paper cards."""

    paper_actions: Sequence[PaperAction]

    async def paper_action(
        self, interaction: discord.Interaction, action: str, paper_id: str
    ) -> None:
        """Do `action` on `paper_id` for `interaction.user`, answering the interaction."""


def offered(bot: commands.Bot) -> list[PaperAction]:
    """The actions the loaded cogs offer, in the order the cogs were loaded."""
    found: list[PaperAction] = []
    for cog in bot.cogs.values():
        if isinstance(cog, PaperActionCog):
            found += [a for a in cog.paper_actions if a.name not in {f.name for f in found}]
    return found


def controls(
    actions: Sequence[PaperAction], papers: Sequence[tuple[str, str]]
) -> list[dict[str, Any]]:
    """The controls of one message, as plain data (stored with a digest's planned parts so a
    resumed digest sends the same): one per action, over the message's (id, title) papers."""
    shown = list(papers)[:OPTIONS_MAX]
    if not shown:
        return []
    return [
        {
            "action": a.name,
            "button": a.button,
            "placeholder": a.placeholder,
            "emoji": a.emoji,
            "papers": [[paper_id, title] for paper_id, title in shown],
        }
        for a in actions[:ROWS_MAX]
    ]


def add_controls(view: discord.ui.View, data: Sequence[dict[str, Any]]) -> discord.ui.View:
    """Add stored controls to a view: buttons share a row, each select takes a row of its own."""
    for control in data:
        papers = [(str(p[0]), str(p[1])) for p in control.get("papers") or []]
        if len(papers) == 1:
            item: discord.ui.Item[Any] = ActionButton(
                control["action"], papers[0][0], control["button"], control.get("emoji")
            )
        elif papers:
            item = ActionSelect(control["action"], papers, control["placeholder"])
        else:
            continue
        try:
            view.add_item(item)
        except ValueError:  # the message's rows are full: this control is left out
            log.warning("no room for the %s control on a message", control["action"])
    return view


def controls_view(data: Sequence[dict[str, Any]]) -> discord.ui.View | None:
    """A persistent view of stored controls, or None when there are none."""
    if not data:
        return None
    return add_controls(discord.ui.View(timeout=None), data)


def forget(view: discord.ui.View | None) -> None:
    """Call after sending a view made only of dynamic items: discord.py would otherwise keep
    it (in its view store, per message, for as long as the bot runs), while its dynamic items
    answer clicks without it."""
    if view is not None and view.is_persistent():
        view.stop()


def is_control(interaction: discord.Interaction) -> bool:
    """Whether the interaction comes from a paper control (anyone may use those)."""
    data: dict[str, Any] = dict(interaction.data or {})
    custom_id = str(data.get("custom_id") or "")
    return custom_id.startswith(("paper:", "papers:"))


async def _dispatch(interaction: discord.Interaction, action: str, paper_id: str) -> None:
    normalised = normalise_id(paper_id)
    if normalised is None or normalised != paper_id:
        await send_ephemeral(interaction, BAD_PAPER)
        return
    client = interaction.client
    cogs = client.cogs.values() if isinstance(client, commands.Bot) else ()
    for cog in cogs:
        if isinstance(cog, PaperActionCog) and any(a.name == action for a in cog.paper_actions):
            try:
                await cog.paper_action(interaction, action, paper_id)
            except UserError as e:
                await send_ephemeral(interaction, str(e))
            return
    await send_ephemeral(interaction, UNAVAILABLE)


class ActionButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=r"paper:(?P<action>[a-z]+):(?P<id>[0-9a-z./-]{1,40})",
):
    """One action on the one paper of a card."""

    def __init__(
        self, action: str, paper_id: str, label: str = "", emoji: str | None = None
    ) -> None:
        super().__init__(
            discord.ui.Button(
                label=(label or action)[:LABEL_MAX],
                emoji=emoji,
                style=discord.ButtonStyle.secondary,
                custom_id=f"paper:{action}:{paper_id}",
            )
        )
        self.action = action
        self.paper_id = paper_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> ActionButton:
        return cls(match["action"], match["id"])

    async def callback(self, interaction: discord.Interaction) -> None:
        await _dispatch(interaction, self.action, self.paper_id)


class ActionSelect(
    discord.ui.DynamicItem[discord.ui.Select[Any]], template=r"papers:(?P<action>[a-z]+)"
):
    """One action on a paper picked among those of a message."""

    def __init__(
        self, action: str, papers: Sequence[tuple[str, str]] = (), placeholder: str = ""
    ) -> None:
        options = [
            discord.SelectOption(label=(title or paper_id)[:LABEL_MAX], value=paper_id)
            for paper_id, title in list(papers)[:OPTIONS_MAX]
        ]
        super().__init__(
            discord.ui.Select(
                custom_id=f"papers:{action}",
                placeholder=(placeholder or action)[:PLACEHOLDER_MAX],
                options=options or [discord.SelectOption(label="-", value="-")],
                min_values=1,
                max_values=1,
            )
        )
        self.action = action

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> ActionSelect:
        return cls(match["action"])

    async def callback(self, interaction: discord.Interaction) -> None:
        values = self.item.values  # discord.py fills them in from the interaction
        if len(values) != 1:
            await send_ephemeral(interaction, BAD_PAPER)
            return
        await _dispatch(interaction, self.action, str(values[0]))
