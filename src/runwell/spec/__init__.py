"""The feature spec: ``runwell.yaml`` models, loading with line-numbered errors, prompt templates.

Start with :func:`load_spec`; it returns a :class:`LoadedSpec` or raises
:class:`~runwell.errors.SpecError` listing every problem as ``FILE:LINE: FIELD: message``.
"""

from runwell.spec.loader import DEFAULT_SPEC_FILE, LoadedSpec, load_spec
from runwell.spec.models import FeatureSpec, GenerationParams, Variant
from runwell.spec.prompts import PromptTemplate, load_template, parse_template
from runwell.spec.version import content_hash, prompt_version, spec_version

__all__ = [
    "DEFAULT_SPEC_FILE",
    "FeatureSpec",
    "GenerationParams",
    "LoadedSpec",
    "PromptTemplate",
    "Variant",
    "content_hash",
    "load_spec",
    "load_template",
    "parse_template",
    "prompt_version",
    "spec_version",
]
