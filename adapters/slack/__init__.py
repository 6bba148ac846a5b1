"""Slack: slash commands, mentions, the Edit image shortcut and result buttons, on slack-bolt."""

from adapters.slack.app import SlackAdapter
from adapters.slack.reply import ReplyRef, SlackReply, SlackReplyFactory

__all__ = [
    "ReplyRef",
    "SlackAdapter",
    "SlackReply",
    "SlackReplyFactory",
]
