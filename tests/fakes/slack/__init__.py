"""A loopback fake of Slack (Web API, private files, uploads, Socket Mode) and Slack-shaped,
Slack-signed request bodies."""

from tests.fakes.slack.payloads import SignedSender
from tests.fakes.slack.server import Call, FakeSlack

__all__ = ["Call", "FakeSlack", "SignedSender"]
