"""The Slack emulator's workspace: who exists, which groups and channels there are, what the bot may do.

Plain dataclasses so a test can build exactly the workspace it needs (a deleted approver, a channel the
bot was never invited to, a token without ``usergroups:read``) and the sandbox can show the same people
in its user switcher. ``demo_workspace()`` is the cast used by ``jitbot sandbox`` and most tests.
"""

from __future__ import annotations

from dataclasses import dataclass, field

DEFAULT_BOT_SCOPES: tuple[str, ...] = (
    "channels:read",
    "chat:write",
    "commands",
    "files:write",
    "groups:read",
    "im:write",
    "usergroups:read",
    "users:read",
    "users:read.email",
)
"""The scopes of an app installed from ``deploy/slack-app-manifest.yaml`` (a test keeps them equal)."""


@dataclass
class SlackUser:
    """A member of the workspace; ``title`` is the profile title the sandbox shows as a role."""

    id: str
    name: str
    real_name: str = ""
    tz: str = "UTC"
    is_bot: bool = False
    deleted: bool = False
    title: str = ""
    email: str | None = None
    is_admin: bool = False


@dataclass
class UserGroup:
    """A user group (``S…``) that can be named as approvers or admins."""

    id: str
    handle: str
    members: list[str] = field(default_factory=list)
    name: str = ""
    description: str = ""


@dataclass
class Channel:
    """A public or private channel; ``members`` are people, ``bot_is_member`` says whether the bot was invited."""

    id: str
    name: str
    members: list[str] = field(default_factory=list)
    bot_is_member: bool = True
    is_private: bool = False
    topic: str = ""


@dataclass
class BotIdentity:
    """The app's bot user as auth.test reports it."""

    user_id: str = "U0JITBOT01"
    name: str = "jitbot"
    bot_id: str = "B0JITBOT01"
    app_id: str = "A0JITBOT01"


@dataclass
class Workspace:
    """Everything the emulator needs to know about one installed workspace."""

    team_id: str = "T0JITDEMO1"
    team_name: str = "Jitbot Demo"
    domain: str = "jitbot-demo"
    bot: BotIdentity = field(default_factory=BotIdentity)
    token: str = "xoxb-0000000000-sandbox-token"  # noqa: S105 (emulator-only credential)
    app_token: str = "xapp-1-A0JITBOT01-0000-sandbox"  # noqa: S105 (emulator-only credential)
    scopes: list[str] = field(default_factory=lambda: list(DEFAULT_BOT_SCOPES))
    signing_secret: str = "sandbox-signing-secret-0123456789"  # noqa: S105
    verification_token: str = "sandbox-verification-token"  # noqa: S105
    users: list[SlackUser] = field(default_factory=list)
    usergroups: list[UserGroup] = field(default_factory=list)
    channels: list[Channel] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.user(self.bot.user_id) is None:
            self.users.append(SlackUser(id=self.bot.user_id, name=self.bot.name, real_name="jitbot", is_bot=True))

    @property
    def url(self) -> str:
        """The workspace URL auth.test reports."""
        return f"https://{self.domain}.slack.com/"

    def user(self, user_id: str) -> SlackUser | None:
        """The user with this id, deleted or not."""
        return next((u for u in self.users if u.id == user_id), None)

    def usergroup(self, group_id: str) -> UserGroup | None:
        """The user group with this id."""
        return next((g for g in self.usergroups if g.id == group_id), None)

    def channel(self, id_or_name: str) -> Channel | None:
        """A channel by id, ``name`` or ``#name`` (chat.postMessage accepts all three)."""
        name = id_or_name.removeprefix("#")
        return next((c for c in self.channels if id_or_name == c.id or name == c.name), None)

    def people(self) -> list[SlackUser]:
        """Active human users, for pickers and user switchers."""
        return [u for u in self.users if not u.is_bot and not u.deleted]


ENGINEER = "U0ENGINE01"
APPROVER_1 = "U0APPROV01"
APPROVER_2 = "U0APPROV02"
ADMIN = "U0ADMIN001"
ONCALL = "U0ONCALL01"
FORMER_EMPLOYEE = "U0FORMER01"
APPROVER_GROUP = "S0APPROVRS"
ONCALL_GROUP = "S0ONCALLRS"
BREAK_GLASS_GROUP = "S0BREAKGLS"
APPROVAL_CHANNEL = "C0APPROVAL"
ONCALL_CHANNEL = "C0ONCALL01"
GENERAL_CHANNEL = "C0GENERAL1"


def demo_workspace() -> Workspace:
    """The demo cast: an engineer, two approvers (also a user group), an admin, on-call, a deleted user; their
    emails match their Entra ID accounts in ``sandbox.entra.demo_directory``.

    ``#jit-approvals`` and ``#oncall`` have the bot in them; ``#general`` does not, so posting there without
    ``chat:write.public`` fails with ``not_in_channel`` exactly as in a real workspace.
    """
    users = [
        SlackUser(ENGINEER, "alice", "Alice Engineer", "Europe/Berlin", title="Engineer", email="alice@contoso.com"),
        SlackUser(
            APPROVER_1, "bob", "Bob Approver", "Europe/London", title="Approver (team lead)", email="bob@contoso.com"
        ),
        SlackUser(
            APPROVER_2,
            "carol",
            "Carol Approver",
            "America/New_York",
            title="Approver (security)",
            email="carol@contoso.com",
        ),
        SlackUser(ADMIN, "dave", "Dave Admin", "UTC", title="Cloud admin", is_admin=True, email="dave@contoso.com"),
        SlackUser(ONCALL, "erin", "Erin Oncall", "Asia/Kolkata", title="On-call engineer", email="erin@contoso.com"),
        SlackUser(
            FORMER_EMPLOYEE,
            "frank",
            "Frank Former",
            "UTC",
            title="Former engineer",
            deleted=True,
            email="frank@contoso.com",
        ),
    ]
    everyone = [u.id for u in users if not u.deleted]
    return Workspace(
        users=users,
        usergroups=[
            UserGroup(
                APPROVER_GROUP,
                "jit-approvers",
                [APPROVER_1, APPROVER_2],
                name="JIT approvers",
                description="People who may approve just-in-time VM access",
            ),
            UserGroup(ONCALL_GROUP, "oncall", [ONCALL], name="On-call", description="Whoever is on call"),
            UserGroup(
                BREAK_GLASS_GROUP,
                "jit-break-glass",
                [ONCALL, ADMIN],
                name="JIT break-glass",
                description="May use --break-glass when everything is on fire",
            ),
        ],
        channels=[
            Channel(APPROVAL_CHANNEL, "jit-approvals", [APPROVER_1, APPROVER_2, ADMIN], topic="JIT access approvals"),
            Channel(ONCALL_CHANNEL, "oncall", [ONCALL, ENGINEER, ADMIN], topic="On-call notices"),
            Channel(GENERAL_CHANNEL, "general", everyone, bot_is_member=False),
        ],
    )
