"""The one text grammar of the text surfaces (Slack's commands and mentions, the console):
words and `--options` (`grammar`), the user's verbs with their usage lines (`verbs`), and the
admin commands (`admin`). Each surface only tokenizes its text and shows the answers."""
