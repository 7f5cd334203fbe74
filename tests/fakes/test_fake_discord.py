"""The real, unpatched discord.py client logs into FakeDiscord and talks to it."""

from __future__ import annotations

import asyncio
import contextlib
import io
from collections.abc import AsyncIterator
from typing import Any, cast

import aiohttp
import discord
import pytest
from discord import app_commands
from discord.ext import commands

from . import fake_discord as fake_module
from .fake_discord import DiscordErrorCollector, FakeDiscord, FakeDiscordError, Perm

# The module's shared fixtures, as a conftest would import them.
caught_discord_errors = fake_module.caught_discord_errors
fake_discord = fake_module.fake_discord

FAST = 0.05
PAPERS = {
    "2509.24002": "Grokking at the edge of stability",
    "2510.00001": "Vision transformers need registers",
    "2510.00002": "Diffusion for protein folding",
}


# ------------------------------------------------------------------------ the bot under test


@app_commands.command(description="Search papers")
@app_commands.describe(query="Words to look for")
async def search(interaction: discord.Interaction, query: str, limit: int = 3) -> None:
    """Answer ephemerally with the query."""
    await interaction.response.send_message(f"results for {query} (limit {limit})", ephemeral=True)


alert = app_commands.Group(name="alert", description="Keyword alerts")


@alert.command(name="add", description="Add a keyword alert")
async def alert_add(
    interaction: discord.Interaction, keyword: str, channel: discord.TextChannel | None = None
) -> None:
    """Defer, then follow up (the follow-up fills in the deferred message)."""
    await interaction.response.defer(thinking=True)
    where = f"#{channel.name}" if channel else "here"
    await interaction.followup.send(f"alert {keyword} -> {where}")


@app_commands.command(description="Today's digest, privately")
async def digest(interaction: discord.Interaction) -> None:
    """Defer ephemerally, edit @original, add a follow-up page, read @original, drop the page."""
    await interaction.response.defer(ephemeral=True, thinking=True)
    await interaction.edit_original_response(content="digest: 3 papers")
    page = await interaction.followup.send("page 2", ephemeral=True, wait=True)
    original = await interaction.original_response()
    await interaction.followup.send(f"original says: {original.content}", ephemeral=True)
    await page.delete()


@app_commands.command(description="Show a paper")
@app_commands.rename(paper_id="id")
async def paper(interaction: discord.Interaction, paper_id: str) -> None:
    """Show a paper's title."""
    await interaction.response.send_message(PAPERS.get(paper_id, "unknown paper"))


@paper.autocomplete("paper_id")
async def paper_id_autocomplete(
    interaction: discord.Interaction, current: str
) -> list[app_commands.Choice[str]]:
    """Paper ids whose id or title contains what the user typed."""
    hits = [(pid, t) for pid, t in PAPERS.items() if current.lower() in f"{pid} {t}".lower()]
    return [app_commands.Choice(name=f"{pid} {title}", value=pid) for pid, title in hits]


class VoteView(discord.ui.View):
    """One upvote button that rewrites the message."""

    def __init__(self) -> None:
        super().__init__(timeout=60)

    @discord.ui.button(label="Upvote", custom_id="vote:up", style=discord.ButtonStyle.success)
    async def upvote(self, interaction: discord.Interaction, button: discord.ui.Button) -> None:
        """Replace the question with who upvoted, and drop the button."""
        await interaction.response.edit_message(
            content=f"upvoted by {interaction.user.name}", view=None
        )


@app_commands.command(description="Vote on today's digest")
async def vote(interaction: discord.Interaction) -> None:
    """Reply with a button; remember the message id discord.py parsed from with_response."""
    sent = await interaction.response.send_message("Worth reading?", view=VoteView())
    assert isinstance(interaction.client, MiniBot)
    interaction.client.vote_message_ids.append(sent.message_id)


class TopicView(discord.ui.View):
    """A string select of topics."""

    @discord.ui.select(
        custom_id="topic:pick",
        options=[discord.SelectOption(label=t, value=t) for t in ("vision", "nlp", "rl")],
        max_values=2,
    )
    async def pick(self, interaction: discord.Interaction, select: discord.ui.Select) -> None:
        """Confirm the picked topics ephemerally."""
        await interaction.response.send_message(
            f"picked {', '.join(select.values)}", ephemeral=True
        )


@app_commands.command(description="Pick topics")
async def topics(interaction: discord.Interaction) -> None:
    """Reply with a select menu."""
    await interaction.response.send_message("Which topics?", view=TopicView())


class FeedbackModal(discord.ui.Modal, title="Feedback"):
    """A one-field modal."""

    text: discord.ui.TextInput = discord.ui.TextInput(label="Your feedback", custom_id="fb:text")

    async def on_submit(self, interaction: discord.Interaction) -> None:
        """Thank the user, quoting them."""
        await interaction.response.send_message(f"thanks: {self.text.value}", ephemeral=True)


@app_commands.command(description="Send feedback")
async def feedback(interaction: discord.Interaction) -> None:
    """Open the feedback modal."""
    await interaction.response.send_modal(FeedbackModal())


@app_commands.command(description="Answer only when allowed to")
async def slow(interaction: discord.Interaction) -> None:
    """Wait for the test's go-ahead, then answer (too late if the fake's deadline passed)."""
    bot = interaction.client
    assert isinstance(bot, MiniBot)
    await bot.go_ahead.wait()
    await interaction.response.send_message("finally")


@app_commands.command(description="Admins only")
@app_commands.default_permissions(manage_guild=True)
async def admin_only(interaction: discord.Interaction) -> None:
    """A command hidden from non-admins."""
    await interaction.response.send_message("ok, admin")


@app_commands.command(description="A file, privately")
async def export(interaction: discord.Interaction, later: bool = False) -> None:
    """Answer with an attachment: at once, or in the follow-up after a defer."""
    file = discord.File(io.BytesIO(b"@misc{k, title = {T}}\n"), filename="library.bib")
    if later:
        await interaction.response.defer(ephemeral=True, thinking=True)
        await interaction.followup.send("here", file=file, ephemeral=True)
    else:
        await interaction.response.send_message(file=file, ephemeral=True)


class MiniBot(commands.Bot):
    """A minimal bot with one of each kind of app command the project uses."""

    def __init__(self, intents: discord.Intents | None = None) -> None:
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=intents or discord.Intents.default(),
            guild_ready_timeout=FAST,
            help_command=None,
        )
        self.ready = asyncio.Event()
        self.resumed = asyncio.Event()
        self.go_ahead = asyncio.Event()
        self.vote_message_ids: list[int | None] = []
        self.seen: asyncio.Queue[discord.Message] = asyncio.Queue()

    async def setup_hook(self) -> None:
        """Register the commands and sync them globally, as a real bot does at start."""
        command: app_commands.Command[Any, ..., Any]
        for command in (search, digest, paper, vote, topics, feedback, slow, admin_only, export):
            self.tree.add_command(command)
        self.tree.add_command(alert)
        await self.tree.sync()

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        """Skip discord.py's 5 s pause before a re-IDENTIFY (Discord's identify rate limit)."""

    async def on_ready(self) -> None:
        """Signal readiness."""
        self.ready.set()

    async def on_resumed(self) -> None:
        """Signal a resumed gateway session."""
        self.resumed.set()

    async def on_message(self, message: discord.Message) -> None:
        """Keep messages from users (the bot's own MESSAGE_CREATEs are skipped)."""
        if message.author != self.user:
            self.seen.put_nowait(message)


class ShardedMiniBot(commands.AutoShardedBot):
    """An auto-sharded bot with one command; asks /gateway/bot for the shard count."""

    def __init__(self) -> None:
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=discord.Intents.default(),
            guild_ready_timeout=FAST,
            help_command=None,
        )
        self.ready = asyncio.Event()

    async def setup_hook(self) -> None:
        """Register and sync /search."""
        self.tree.add_command(search)
        await self.tree.sync()

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        """Skip the 5 s pause between shard IDENTIFYs."""

    async def on_ready(self) -> None:
        """Signal that every shard is ready."""
        self.ready.set()


# ---------------------------------------------------------------------------------- fixtures

AnyBot = commands.Bot | commands.AutoShardedBot


@pytest.fixture
def discord_errors(caught_discord_errors: DiscordErrorCollector) -> DiscordErrorCollector:
    """ERROR records of the discord loggers during the test (the module's shared fixture)."""
    return caught_discord_errors


@pytest.fixture
def fake(fake_discord: FakeDiscord) -> FakeDiscord:
    """A started fake Discord with discord.py pointed at it (the module's shared fixture)."""
    return fake_discord


async def start_bot(bot: AnyBot, fake: FakeDiscord, ready: asyncio.Event) -> asyncio.Task[None]:
    """Start the bot; wait for on_ready and every guild's GUILD_CREATE (or for start() to fail).

    on_ready only waits guild_ready_timeout after the last GUILD_CREATE, so with a tiny timeout
    and a busy loop it may fire before every guild arrived; hence the availability wait.
    """
    task = asyncio.create_task(bot.start(fake.token))
    waiter = asyncio.create_task(ready.wait())
    done, _ = await asyncio.wait({task, waiter}, timeout=5, return_when=asyncio.FIRST_COMPLETED)
    waiter.cancel()
    if task in done:
        task.result()
        raise AssertionError("bot.start() returned before on_ready")
    if not done:
        raise AssertionError("bot did not become ready within 5 s")

    def available() -> bool:
        return all(not g.unavailable for g in bot.guilds)

    await fake.wait_for(available, timeout=5, what="every guild to be available")
    return task


async def stop_bot(bot: AnyBot, task: asyncio.Task[None]) -> None:
    """Close the bot and wait for its start() task to finish."""
    await bot.close()
    with contextlib.suppress(asyncio.CancelledError):
        await asyncio.wait_for(task, timeout=5)


@pytest.fixture
async def bot(fake: FakeDiscord, discord_errors: DiscordErrorCollector) -> AsyncIterator[MiniBot]:
    """MiniBot logged into the fake and ready; always closed."""
    client = MiniBot()
    task = None
    try:
        task = await start_bot(client, fake, client.ready)
        yield client
    finally:
        if task is None:
            await client.close()
        else:
            await stop_bot(client, task)


def text_channel(bot: commands.Bot, fake: FakeDiscord, name: str) -> discord.TextChannel:
    """The bot's cached TextChannel for a fake channel name."""
    channel = bot.get_channel(int(fake.channel_id(name)))
    assert isinstance(channel, discord.TextChannel)
    return channel


# ------------------------------------------------------------------------------------- login


async def test_login_sync_and_world_are_visible(
    fake: FakeDiscord, bot: MiniBot, discord_errors: DiscordErrorCollector
) -> None:
    """Login, command sync and GUILD_CREATE give discord.py the guild, channels and permissions."""
    guild = bot.get_guild(int(fake.guild_id))
    assert guild is not None and guild.name == "Paper Club"
    assert guild.me is not None and guild.me.id == int(fake.bot_user_id)
    assert {"general", "papers", "vision", "readonly"} <= {c.name for c in guild.text_channels}
    assert text_channel(bot, fake, "papers").permissions_for(guild.me).send_messages
    assert not text_channel(bot, fake, "readonly").permissions_for(guild.me).send_messages
    assert bot.application_id == int(fake.application_id)
    assert fake.identify_payloads[0]["intents"] == discord.Intents.default().value
    assert fake.sync_count["global"] == 1
    synced = {c["name"] for c in fake.commands["global"]}
    names = "search alert digest paper vote topics feedback slow admin_only export"
    assert synced == set(names.split())
    first_two = [f"{r.method} {r.path}" for r in fake.requests[:2]]
    assert first_two == ["GET /users/@me", "GET /oauth2/applications/@me"]
    fake.assert_clean()
    discord_errors.assert_clean()


async def test_bad_token_raises_login_failure(fake: FakeDiscord) -> None:
    """A wrong token gets 401 on GET /users/@me, which discord.py turns into LoginFailure."""
    client = MiniBot()
    try:
        with pytest.raises(discord.LoginFailure):
            await client.login("not-the-token")
    finally:
        await client.close()
    assert [(r.path, r.status) for r in fake.requests] == [("/users/@me", 401)]


async def test_json_responses_have_exact_content_type_and_need_auth(fake: FakeDiscord) -> None:
    """Every route checks the Bot token; JSON goes out as exactly 'application/json'."""
    url = f"{fake.api_base_url}/channels/{fake.channel_id('general')}"
    async with aiohttp.ClientSession() as session:
        async with session.get(url) as response:
            assert response.status == 401
            assert response.headers["Content-Type"] == "application/json"
            assert await response.json() == {"message": "401: Unauthorized", "code": 0}
        headers = {"Authorization": f"Bot {fake.token}"}
        async with session.get(url, headers=headers) as response:
            assert response.status == 200
            assert response.headers["Content-Type"] == "application/json"
            assert (await response.json())["name"] == "general"


# ------------------------------------------------------------------------------ interactions


async def test_slash_command_gets_ephemeral_response(
    fake: FakeDiscord, bot: MiniBot, discord_errors: DiscordErrorCollector
) -> None:
    """A slash command invocation reaches the tree and the callback is recorded."""
    inter = await fake.invoke("search", {"query": "grokking", "limit": 5}, user=fake.alice)
    response = await inter.response(timeout=2)
    assert response.type == 4
    assert response.content == "results for grokking (limit 5)"
    assert response.ephemeral
    assert fake.messages_in("general") == []
    assert fake.messages_in("general", include_ephemeral=True)[0].content == response.content
    fake.assert_clean()
    discord_errors.assert_clean()


async def test_subcommand_with_channel_option_defers_then_follows_up(
    fake: FakeDiscord, bot: MiniBot, discord_errors: DiscordErrorCollector
) -> None:
    """A group subcommand with a channel option; the follow-up fills in the deferred message."""
    options = {"keyword": "diffusion", "channel": "vision"}
    inter = await fake.invoke("alert add", options, user=fake.bob, channel="papers")
    assert (await inter.response(timeout=2)).type == 5
    (followup,) = await inter.followups(1, timeout=2)
    final = await inter.final_message(timeout=2)
    assert followup is final
    assert final.content == "alert diffusion -> #vision"
    assert not final.loading and not final.ephemeral
    assert fake.messages_in("papers") == [final]
    fake.assert_clean()
    discord_errors.assert_clean()


@pytest.mark.parametrize("later", [False, True])
async def test_files_on_interaction_responses_are_recorded_with_their_bytes(
    fake: FakeDiscord, bot: MiniBot, discord_errors: DiscordErrorCollector, later: bool
) -> None:
    """A file-only response (multipart) and a follow-up's file both become attachments."""
    inter = await fake.invoke("export", {"later": later}, user=fake.alice)
    final = await inter.final_message(timeout=2)
    assert final.ephemeral and not final.loading
    (attachment,) = final.attachments
    assert attachment["filename"] == "library.bib"
    assert fake.attachment_bytes(attachment) == b"@misc{k, title = {T}}\n"
    fake.assert_clean()
    discord_errors.assert_clean()


async def test_webhook_edit_get_and_delete_of_interaction_messages(
    fake: FakeDiscord, bot: MiniBot, discord_errors: DiscordErrorCollector
) -> None:
    """PATCH/GET @original and DELETE of a follow-up through the interaction webhook."""
    inter = await fake.invoke("digest", user=fake.alice)
    first = await inter.response(timeout=2)
    assert first.type == 5 and first.ephemeral
    final = await inter.final_message(timeout=2)
    assert final.content == "digest: 3 papers" and final.ephemeral and not final.loading
    page, quote = await inter.followups(2, timeout=2)
    await fake.wait_for(lambda: page.deleted, timeout=2, what="the deleted page")
    assert page.content == "page 2" and page.ephemeral
    assert quote.content == "original says: digest: 3 papers"
    assert [e.get("content") for e in inter.edits] == ["digest: 3 papers"]
    hooks = [f"{r.method} {r.path.split('/')[-1]}" for r in fake.requests if "/webhooks/" in r.path]
    assert hooks[0] == "PATCH @original" and "GET @original" in hooks
    assert hooks[-1] == f"DELETE {page.id}"
    assert fake.messages_in("general") == []
    fake.assert_clean()
    discord_errors.assert_clean()


async def test_autocomplete_returns_the_bots_choices(
    fake: FakeDiscord, bot: MiniBot, discord_errors: DiscordErrorCollector
) -> None:
    """Autocomplete (type 4) on a renamed option returns the choices the bot answered."""
    choices = await fake.autocomplete("paper", {"id": "gro"}, focused="id", timeout=2)
    assert choices == [
        {"name": "2509.24002 Grokking at the edge of stability", "value": "2509.24002"}
    ]
    fake.assert_clean()
    discord_errors.assert_clean()


async def test_button_click_reaches_the_view(
    fake: FakeDiscord, bot: MiniBot, discord_errors: DiscordErrorCollector
) -> None:
    """The View is bound to the message id from with_response; a click runs its callback."""
    inter = await fake.invoke("vote", user=fake.alice)
    question = (await inter.response(timeout=2)).message
    assert question is not None and question.custom_ids == ["vote:up"]
    assert bot.vote_message_ids == [int(question.id)]
    click = await fake.click(question, "vote:up", user=fake.bob)
    assert (await click.response(timeout=2)).type == 7
    assert question.content == "upvoted by bob"
    assert question.components == []
    assert question.history[0]["content"] == "Worth reading?"
    fake.assert_clean()
    discord_errors.assert_clean()


async def test_select_menu_reaches_the_view(
    fake: FakeDiscord, bot: MiniBot, discord_errors: DiscordErrorCollector
) -> None:
    """Picking values in a string select runs the select's callback with those values."""
    question = (await (await fake.invoke("topics")).response(timeout=2)).message
    assert question is not None
    with pytest.raises(FakeDiscordError, match="not offered"):
        await fake.select(question, "topic:pick", ["biology"])
    picked = await fake.select(question, "topic:pick", ["vision", "rl"], user=fake.bob)
    answer = await picked.response(timeout=2)
    assert answer.content == "picked vision, rl" and answer.ephemeral
    fake.assert_clean()
    discord_errors.assert_clean()


async def test_slash_command_in_dm(
    fake: FakeDiscord, bot: MiniBot, discord_errors: DiscordErrorCollector
) -> None:
    """A global command used in the bot's DM carries `user` instead of `member`."""
    inter = await fake.invoke("search", {"query": "in a dm"}, user=fake.bob, dm=True)
    assert "member" not in inter.payload and inter.payload["user"]["id"] == fake.bob.id
    assert (await inter.response(timeout=2)).content == "results for in a dm (limit 3)"
    fake.assert_clean()
    discord_errors.assert_clean()


async def test_modal_submit_reaches_on_submit(
    fake: FakeDiscord, bot: MiniBot, discord_errors: DiscordErrorCollector
) -> None:
    """A modal answer (type 9) can be filled in and submitted; on_submit sees the value."""
    inter = await fake.invoke("feedback", user=fake.alice)
    assert (await inter.response(timeout=2)).type == 9
    submitted = await fake.submit_modal(inter, {"fb:text": "more vision papers"})
    assert (await submitted.response(timeout=2)).content == "thanks: more vision papers"
    fake.assert_clean()
    discord_errors.assert_clean()


async def test_unregistered_command_and_hidden_command_fail_clearly(
    fake: FakeDiscord, bot: MiniBot
) -> None:
    """The fake refuses what Discord's client would not let a user do."""
    with pytest.raises(FakeDiscordError, match="not registered"):
        await fake.invoke("subscribe", {"hour": 8})
    with pytest.raises(FakeDiscordError, match="cannot see /admin_only"):
        await fake.invoke("admin_only", user=fake.alice)
    with pytest.raises(FakeDiscordError, match="required option 'query' missing"):
        await fake.invoke("search", {})
    inter = await fake.invoke("admin_only", user=fake.admin)
    assert (await inter.response(timeout=2)).content == "ok, admin"


async def test_second_acknowledgement_gets_40060(fake: FakeDiscord, bot: MiniBot) -> None:
    """Answering an interaction twice (e.g. two bot processes) is rejected with 40060."""
    inter = await fake.invoke("search", {"query": "x"})
    await inter.response(timeout=2)
    twin = discord.Interaction(data=cast(Any, inter.payload), state=bot._connection)  # a 2nd copy
    with pytest.raises(discord.HTTPException) as error:
        await twin.response.send_message("second answer")
    assert (error.value.status, error.value.code) == (400, 40060)
    assert [v.code for v in fake.violations] == [40060]
    assert len(inter.callbacks) == 1


async def test_late_acknowledgement_gets_10062(
    fake: FakeDiscord, bot: MiniBot, discord_errors: DiscordErrorCollector
) -> None:
    """No callback within the deadline is a violation; the late callback gets 10062."""
    fake.ack_deadline = 0.1
    inter = await fake.invoke("slow")
    await fake.wait_for(lambda: fake.violations, timeout=2, what="the missed deadline")
    bot.go_ahead.set()
    await fake.wait_for(lambda: inter.rejected, timeout=2, what="the late callback")
    assert [v.code for v in fake.violations] == [10062, 10062]
    assert "not acknowledged within 0.1s" in str(fake.violations[0])
    assert not inter.acknowledged
    await fake.wait_for(lambda: discord_errors.records, timeout=2, what="the command error log")
    assert "10062" in "\n".join(discord_errors.messages())


# ---------------------------------------------------------------------------------- messages


async def test_dm_is_recorded(
    fake: FakeDiscord, bot: MiniBot, discord_errors: DiscordErrorCollector
) -> None:
    """fetch_user + send opens a DM channel and the message is recorded for that user."""
    user = await bot.fetch_user(int(fake.alice.id))
    sent = await user.send("your digest is ready")
    (dm,) = fake.dms_to(fake.alice)
    assert dm.content == "your digest is ready" and int(dm.id) == sent.id
    assert fake.dms_to(fake.bob) == []
    fake.assert_clean()
    discord_errors.assert_clean()


async def test_dm_to_refusing_user_raises_forbidden_50007(fake: FakeDiscord, bot: MiniBot) -> None:
    """A user who blocks DMs makes send() raise Forbidden with code 50007."""
    fake.dm_refusing.add(fake.bob.id)
    user = await bot.fetch_user(int(fake.bob.id))
    with pytest.raises(discord.Forbidden) as error:
        await user.send("hello")
    assert error.value.code == 50007
    assert fake.dms_to(fake.bob) == []
    assert [v.code for v in fake.violations] == [50007]


async def test_readonly_and_unknown_channels(fake: FakeDiscord, bot: MiniBot) -> None:
    """Posting where the bot lacks SEND_MESSAGES is 403 50013; an unknown channel is 10003."""
    with pytest.raises(discord.Forbidden) as error:
        await text_channel(bot, fake, "readonly").send("hi")
    assert error.value.code == 50013
    assert fake.permissions_in(fake.bot_user, "readonly") & Perm.SEND_MESSAGES == 0
    with pytest.raises(discord.NotFound) as missing:
        await bot.get_partial_messageable(1234).send("into the void")
    assert missing.value.code == 10003
    assert [v.code for v in fake.violations] == [50013, 10003]


async def test_forced_429_is_retried_and_message_arrives_once(
    fake: FakeDiscord, bot: MiniBot, discord_errors: DiscordErrorCollector
) -> None:
    """discord.py honours a 429 (with Via header) by sleeping retry_after and retrying."""
    fake.force_429("POST /channels/", count=1, retry_after=0.05)
    await text_channel(bot, fake, "papers").send("after a rate limit")
    assert [m.content for m in fake.messages_in("papers")] == ["after a rate limit"]
    posts = [r.status for r in fake.requests if r.method == "POST" and "/messages" in r.path]
    assert posts == [429, 200]
    fake.assert_clean()
    discord_errors.assert_clean()


async def test_global_rate_limit_is_respected(fake: FakeDiscord, bot: MiniBot) -> None:
    """Beyond fake.global_rate_limit requests per window discord.py waits out a global 429."""
    fake.global_rate_limit, fake.global_rate_window = 3, 0.2
    channel = text_channel(bot, fake, "general")
    for n in range(5):
        await channel.send(f"message {n}")
    assert [m.content for m in fake.messages_in("general")] == [f"message {n}" for n in range(5)]
    assert fake.global_429s >= 1


async def test_embed_over_limits_is_rejected_with_50035(fake: FakeDiscord, bot: MiniBot) -> None:
    """An embed title over 256 characters is 400 Invalid Form Body."""
    embed = discord.Embed(title="x" * 257, description="fine")
    with pytest.raises(discord.HTTPException) as error:
        await text_channel(bot, fake, "papers").send(embed=embed)
    assert (error.value.status, error.value.code) == (400, 50035)
    assert "embeds.0.title" in error.value.text
    assert fake.messages_in("papers") == []


async def test_nonce_with_enforce_nonce_returns_the_same_message(
    fake: FakeDiscord, bot: MiniBot
) -> None:
    """Resending with the same nonce (discord.py sets enforce_nonce) creates no duplicate."""
    channel = text_channel(bot, fake, "papers")
    first = await channel.send("digest 2025-10-01", nonce="digest-2025-10-01")
    again = await channel.send("digest 2025-10-01", nonce="digest-2025-10-01")
    assert first.id == again.id
    assert len(fake.messages_in("papers")) == 1
    assert fake.requests[-1].json["enforce_nonce"] is True


async def test_threads_edits_and_deletes(
    fake: FakeDiscord, bot: MiniBot, discord_errors: DiscordErrorCollector
) -> None:
    """Thread from a message, posting in it, editing and deleting the starter message."""
    message = await text_channel(bot, fake, "papers").send("today's papers")
    thread = await message.create_thread(name="discussion")
    assert thread.id == message.id
    await thread.send("first comment")
    assert [m.content for m in fake.messages_in(str(thread.id))] == ["first comment"]
    standalone = await text_channel(bot, fake, "papers").create_thread(
        name="weekly", type=discord.ChannelType.public_thread
    )
    assert fake.channel(str(standalone.id)).parent_id == fake.channel_id("papers")
    await message.edit(content="today's papers (edited)")
    await message.delete()
    (recorded,) = fake.messages_in("papers", include_deleted=True)
    assert recorded.deleted and recorded.edited and recorded.content.endswith("(edited)")
    fake.assert_clean()
    discord_errors.assert_clean()


async def test_unknown_message_and_unknown_route(fake: FakeDiscord, bot: MiniBot) -> None:
    """A missing message is Discord's 10008; a route the fake lacks is listed in unknown_routes."""
    with pytest.raises(discord.NotFound):
        await text_channel(bot, fake, "papers").fetch_message(1)
    assert fake.violations[-1].code == 10008
    with pytest.raises(discord.NotFound):
        await bot.http.request(discord.http.Route("GET", "/voice/regions"))
    assert fake.unknown_routes == ["GET /voice/regions"]
    with pytest.raises(AssertionError, match="unknown route GET /voice/regions"):
        fake.assert_clean()


# ----------------------------------------------------------------------------------- gateway


async def test_user_message_content_needs_the_intent(fake: FakeDiscord, bot: MiniBot) -> None:
    """Without MESSAGE_CONTENT a user's guild message arrives empty unless it mentions the bot."""
    await fake.send_user_message(fake.alice, "general", "hello everyone")
    await fake.send_user_message(fake.alice, "general", f"<@{fake.bot_user_id}> hi bot")
    first = await asyncio.wait_for(bot.seen.get(), timeout=2)
    second = await asyncio.wait_for(bot.seen.get(), timeout=2)
    assert (first.author.name, first.content) == ("alice", "")
    assert second.content == f"<@{fake.bot_user_id}> hi bot"


async def test_members_intent_chunks_the_guild(fake: FakeDiscord) -> None:
    """With the members intent discord.py requests members (op 8) and gets GUILD_MEMBERS_CHUNK."""
    intents = discord.Intents.default()
    intents.members = True
    client = MiniBot(intents)
    task = await start_bot(client, fake, client.ready)
    try:
        guild = client.get_guild(int(fake.guild_id))
        assert guild is not None and guild.chunked
        assert {m.name for m in guild.members} == {"paperboy", "owner", "admin", "alice", "bob"}
        admin = guild.get_member(int(fake.admin.id))
        assert admin is not None and admin.guild_permissions.manage_guild
    finally:
        await stop_bot(client, task)


async def test_privileged_intent_not_enabled_closes_with_4014(fake: FakeDiscord) -> None:
    """An intent the app may not use closes the gateway with 4014: PrivilegedIntentsRequired."""
    fake.allowed_privileged_intents = 0
    client = MiniBot(discord.Intents.all())
    try:
        with pytest.raises(discord.PrivilegedIntentsRequired):
            await start_bot(client, fake, client.ready)
    finally:
        await client.close()
    assert fake.identify_payloads == []


async def test_auto_sharded_bot_gets_guilds_per_shard(fake: FakeDiscord) -> None:
    """AutoShardedBot asks /gateway/bot, identifies each shard, and interactions reach shard 1."""
    fake.recommended_shards = 2
    for n in range(3):
        fake.add_guild(f"extra {n}")
    client = ShardedMiniBot()
    task = await start_bot(client, fake, client.ready)
    try:
        assert sorted(p["shard"] for p in fake.identify_payloads) == [[0, 2], [1, 2]]
        assert len(client.guilds) == 4
        assert {g.shard_id for g in client.guilds} == {0, 1}
        on_shard_1 = next(g for g in fake.guilds if (int(g) >> 22) % 2 == 1)
        general = fake.add_text_channel(on_shard_1, "general")
        carol = fake.add_member(on_shard_1, "carol")
        inter = await fake.invoke("search", {"query": "shard"}, user=carol, channel=general)
        assert (await inter.response(timeout=2)).content == "results for shard (limit 3)"
    finally:
        await stop_bot(client, task)


async def test_reconnect_request_resumes(
    fake: FakeDiscord, bot: MiniBot, discord_errors: DiscordErrorCollector
) -> None:
    """Op 7 RECONNECT makes the client reconnect and RESUME."""
    fake.request_reconnect()
    await asyncio.wait_for(bot.resumed.wait(), timeout=5)
    assert len(fake.resumes) == 1 and len(fake.identify_payloads) == 1
    discord_errors.assert_clean()


async def test_dropped_gateway_resumes_and_still_answers(
    fake: FakeDiscord, bot: MiniBot, discord_errors: DiscordErrorCollector
) -> None:
    """After a 4000 close the client RESUMEs via resume_gateway_url, and events keep flowing."""
    await fake.drop_gateway(close_code=4000)
    inter = await fake.invoke("search", {"query": "after resume"})
    await asyncio.wait_for(bot.resumed.wait(), timeout=5)
    response = await inter.response(timeout=5)
    assert response.content == "results for after resume (limit 3)"
    assert len(fake.identify_payloads) == 1
    assert len(fake.resumes) == 1 and fake.resumes[0].path.startswith("/gateway/resume?")
    fake.assert_clean()
    discord_errors.assert_clean()


async def test_invalidated_session_identifies_again(
    fake: FakeDiscord, bot: MiniBot, discord_errors: DiscordErrorCollector
) -> None:
    """A non-resumable drop gets op 9 on RESUME; the client identifies afresh and is ready."""
    bot.ready.clear()
    await fake.drop_gateway(close_code=4000, resumable=False)
    await asyncio.wait_for(bot.ready.wait(), timeout=5)
    assert len(fake.identify_payloads) == 2
    assert fake.resumes == []
    inter = await fake.invoke("search", {"query": "fresh"})
    assert (await inter.response(timeout=2)).content.startswith("results for fresh")
    discord_errors.assert_clean()


async def test_many_guilds_and_channels_load_quickly(fake: FakeDiscord) -> None:
    """1,000 extra channels across 100 guilds reach the client in GUILD_CREATE."""
    for g in range(100):
        guild_id = fake.add_guild(f"guild {g}")
        for c in range(10):
            fake.add_text_channel(guild_id, f"channel-{c}")
    client = MiniBot()
    task = await start_bot(client, fake, client.ready)
    try:
        assert len(client.guilds) == 101
        assert sum(len(g.text_channels) for g in client.guilds) == 1004
    finally:
        await stop_bot(client, task)
