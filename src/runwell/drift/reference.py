"""The reference side of drift: the inputs of a feature's eval set, as its model would receive them.

Each case of every suite under ``evals.suites`` is put through the serving variant's prompt
template (as the gateway would), and its user turns are the reference text. A case the template
cannot render (a variable it does not give) keeps its raw user turns, or its variables' values.
"""

from __future__ import annotations

from runwell.drift.inputs import user_text
from runwell.errors import ConfigError, RequestError
from runwell.evals.dataset import Case, load_dataset
from runwell.spec.loader import LoadedSpec

__all__ = ["reference_texts"]


def _text(loaded: LoadedSpec, variant: str, case: Case) -> str:
    template = loaded.prompts[variant]
    messages = case.messages or []
    try:
        return user_text(template.render(messages, case.variables or {}))
    except RequestError:
        raw = user_text(messages)
        return raw or " ".join(str(v) for v in (case.variables or {}).values())


def reference_texts(loaded: LoadedSpec, variant: str | None = None) -> list[str]:
    """The eval set's inputs, rendered with ``variant``'s template (default: the default variant).

    ConfigError when the spec has no eval suite, or names a variant it does not have.
    """
    name = variant or loaded.default_variant
    if name not in loaded.prompts:
        raise ConfigError(f"{loaded.path}: no variant {name!r}; known: {', '.join(sorted(loaded.prompts))}")
    suites = loaded.spec.evals.suites
    if not suites:
        raise ConfigError(
            f"{loaded.path}: evals.suites is empty, so there is no eval set to compare live inputs with; "
            "add a suite (its dataset's inputs are the reference)"
        )
    texts: list[str] = []
    for suite in suites:
        dataset = load_dataset(loaded.base_dir / suite.dataset, name=suite.dataset)
        texts.extend(text for case in dataset if (text := _text(loaded, name, case)))
    return texts
