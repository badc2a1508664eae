"""Slack's config section: its settings, how they are checked, and what a Slack channel entry needs."""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.checking import ChatRule, Checker, PlatformSettings, Section, http_url


@dataclass(frozen=True, slots=True, repr=False)
class SlackSettings(PlatformSettings):
    token: str = field(default="", repr=False)
    signing_secret: str = field(default="", repr=False)
    app_token: str = field(default="", repr=False)
    base_url: str = "https://slack.com/api/"
    # Users (ids) besides workspace admins who may /digest subscribe and unsubscribe.
    admins: tuple[str, ...] = ()
    # Post today/item/category replies for the whole channel without the `public` word.
    public_replies: bool = False
    # Multiplies the per-channel posting pace the bot keeps (about one message a second).
    rate_limit_scale: float = 1.0

    def summary(self) -> str:
        if not self.configured:
            return "skipped (no token)"
        return "configured (Socket Mode)" if self.app_token else "configured (HTTP endpoints)"


def check_slack(check: Checker, raw: object) -> SlackSettings:
    """The `slack:` section, every problem added to `check`."""
    section = check.section(raw, "slack", SECTION.keys)
    defaults = SlackSettings()
    token = check.credential(section, "token", "slack")
    signing_secret = check.credential(section, "signing_secret", "slack")
    app_token = check.credential(section, "app_token", "slack")
    base_url = check.text(section, "base_url", "slack", defaults.base_url).strip()
    if not http_url(base_url):
        check.add("slack.base_url", "expected an http(s) URL like https://slack.com/api/")
    if token and not signing_secret and not app_token and "slack.signing_secret" not in check.failed:
        check.add("slack.signing_secret",
                  "required when slack.token is set (or set slack.app_token to use Socket Mode instead)")
    return SlackSettings(
        token=token, signing_secret=signing_secret, app_token=app_token, base_url=base_url,
        admins=check.string_list(section.get("admins"), "slack.admins"),
        public_replies=check.boolean(section, "public_replies", "slack", defaults.public_replies),
        rate_limit_scale=check.scale(section, "rate_limit_scale", "slack"),
    )


SECTION = Section("slack", SlackSettings, check_slack, required="token", variable="SLACK_BOT_TOKEN",
                  chat=ChatRule(example="C0123456789"))
