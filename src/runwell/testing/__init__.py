"""Test helpers that ship with runwell, for its own tests and for users' tests.

:mod:`runwell.testing.mock_upstream` is a real HTTP server speaking the OpenAI and Anthropic
wire formats; import it from there (this package imports nothing, so it stays cheap to import).
"""

__all__: list[str] = []
