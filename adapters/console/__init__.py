"""A terminal chat for the demo and end-to-end tests."""

from adapters.console.reply import ConsoleReply, ConsoleReplyFactory
from adapters.console.session import ConsoleSession, read_line
from adapters.console.terminal import Terminal

__all__ = ["ConsoleReply", "ConsoleReplyFactory", "ConsoleSession", "Terminal", "read_line"]
