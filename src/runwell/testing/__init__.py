"""Test helpers that ship with runwell, for its own tests and for users' tests.

:mod:`runwell.testing.mock_upstream` is a real HTTP server speaking the OpenAI and Anthropic
wire formats (text, tool calls, logprobs, scripted faults). :mod:`runwell.testing.receivers` holds
local servers that check the paging wire formats (PagerDuty Events v2, Slack, Standard Webhooks,
SMTP) and keep what they received. Import them from there (this package imports nothing, so it
stays cheap to import).
"""

__all__: list[str] = []
