"""Teacher backend `openai`: any OpenAI-compatible chat endpoint (OpenAI, vLLM, llama.cpp server, Ollama, ...).

Plain HTTP with the standard library (the `openai` package is not needed): POST {base}/chat/completions with
temperature 0. Configured from the environment:

    MEMORY_LORA_TEACHER_URL    base URL including the version prefix, e.g. http://127.0.0.1:8000/v1 (required)
    MEMORY_LORA_TEACHER_KEY    API key, sent as "Authorization: Bearer KEY" (optional: local servers need none)
    MEMORY_LORA_TEACHER_MODEL  model name, when synth.teacher_model (--synth.teacher_model) is not given

429 and 5xx replies, timeouts and refused connections are retried with exponential backoff (a Retry-After header
is honoured); other 4xx replies (bad key, unknown model) stop synthesis at once with a one-line error.

Try it: `MEMORY_LORA_TEACHER_URL=http://127.0.0.1:8000/v1 python -m data_synth.teachers.openai_teacher MODEL "prompt"`.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
import urllib.error
import urllib.request

from data_synth.teachers.base import TeacherConfigError, TeacherError

log = logging.getLogger(__name__)

ENV_URL = "MEMORY_LORA_TEACHER_URL"
ENV_KEY = "MEMORY_LORA_TEACHER_KEY"
ENV_MODEL = "MEMORY_LORA_TEACHER_MODEL"
RETRY_STATUS = {408, 409, 425, 429, 500, 502, 503, 504}
MAX_RETRY_AFTER_S = 60.0  # a server asking for a longer pause is treated as down rather than waited on


class OpenAITeacher:
    """An OpenAI-compatible chat completions endpoint as a teacher.

    Args:
        base_url: Base URL up to and including the version prefix ("http://host:8000/v1").
        model: Model name sent in every request.
        api_key: Bearer token, or None for servers without authentication.
        max_tokens: Reply length cap per memory.
        timeout: Seconds to wait for one reply (big local models are slow).
        retries: Extra attempts after a retryable failure.
        backoff: First pause in seconds; doubled after each retry.
    """

    name = "openai"

    def __init__(self, base_url: str, model: str, api_key: str | None = None, max_tokens: int = 512,
                 timeout: float = 120.0, retries: int = 4, backoff: float = 1.0):
        if not base_url:
            raise TeacherConfigError(f"the openai teacher needs {ENV_URL} (e.g. http://127.0.0.1:8000/v1)")
        if not base_url.startswith(("http://", "https://")):
            raise TeacherConfigError(f"{ENV_URL} must start with http:// or https://, got {base_url!r}")
        if not model:
            raise TeacherConfigError("the openai teacher needs a model name: synth.teacher_model "
                                     f"(--synth.teacher_model) or {ENV_MODEL}")
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.model = model
        self.api_key = api_key or None
        self.max_tokens = max_tokens
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff

    @classmethod
    def from_env(cls, model: str | None = None, max_tokens: int = 512, **kwargs) -> OpenAITeacher:
        """Build from MEMORY_LORA_TEACHER_URL / _KEY / _MODEL; `model` (from the config) wins over the env."""
        return cls(os.environ.get(ENV_URL, "").strip(), model or os.environ.get(ENV_MODEL, "").strip(),
                   os.environ.get(ENV_KEY, "").strip() or None, max_tokens=max_tokens, **kwargs)

    def _request(self, body: bytes) -> urllib.request.Request:
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        return urllib.request.Request(self.url, data=body, headers=headers, method="POST")

    def _post(self, payload: dict) -> dict:
        """POST with retries; the decoded JSON reply."""
        body = json.dumps(payload).encode("utf-8")
        last = ""
        for attempt in range(self.retries + 1):
            wait = self.backoff * (2 ** attempt)
            try:
                with urllib.request.urlopen(self._request(body), timeout=self.timeout) as resp:
                    return json.loads(resp.read().decode("utf-8"))
            except urllib.error.HTTPError as e:
                detail = e.read().decode("utf-8", "replace")[:200].replace("\n", " ")
                last = f"HTTP {e.code} from {self.url}: {detail}"
                if e.code not in RETRY_STATUS:
                    raise TeacherConfigError(last) from None  # 401 / 404 / 400 will not heal by retrying
                retry_after = e.headers.get("Retry-After", "") if e.headers else ""
                if retry_after.strip().isdigit():
                    wait = float(retry_after)
                    if wait > MAX_RETRY_AFTER_S:
                        break
            except (urllib.error.URLError, TimeoutError, ConnectionError) as e:
                last = f"cannot reach {self.url}: {getattr(e, 'reason', e)}"
            except json.JSONDecodeError:
                last = f"reply from {self.url} is not JSON"
            if attempt < self.retries:
                log.info("teacher request failed (%s); retry %d/%d in %.1f s", last, attempt + 1, self.retries, wait)
                time.sleep(wait)
        raise TeacherError(last)

    def generate(self, prompt: str) -> str:
        """The assistant message for one user message ("" when the reply carries no text)."""
        reply = self._post({"model": self.model, "messages": [{"role": "user", "content": prompt}],
                            "temperature": 0, "max_tokens": self.max_tokens})
        try:
            content = reply["choices"][0]["message"].get("content")
        except (KeyError, IndexError, TypeError, AttributeError):
            raise TeacherError(f"reply from {self.url} has no choices[0].message") from None
        return content if isinstance(content, str) else ""


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(f"usage: {ENV_URL}=... python -m data_synth.teachers.openai_teacher MODEL PROMPT")
    print(OpenAITeacher.from_env(sys.argv[1]).generate(sys.argv[2]))
