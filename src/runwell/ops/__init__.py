"""Operating an LLM feature: reaching a person (notifiers), on-call schedules and escalation.

Import from the subpackages (:mod:`runwell.ops.notify`, :mod:`runwell.ops.oncall`); this package
imports nothing so that it stays cheap to import.
"""

__all__: list[str] = []
