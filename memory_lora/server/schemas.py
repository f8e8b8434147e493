"""The OpenAI chat-completions wire format: request validation, response and stream-chunk bodies, error bodies.

Unknown request fields are ignored (clients send many optional ones); known ones are checked strictly, so
`"stream": "yes"` or `"max_tokens": "5"` is a 400 rather than a guess. Decoding is greedy: `temperature`, `top_p`
and `seed` are accepted and have no effect.
"""

from __future__ import annotations

import re
import secrets
import time
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr, ValidationError, field_validator

_UNION_TAG = re.compile(r"str|int|float|bool|list\[.*\]|dict\[.*\]|function-\w+\[.*\]|TextPart")


class ApiError(Exception):
    """An error answered as an OpenAI error body with an HTTP status.

    Args:
        status: HTTP status code.
        message: Human-readable message (never includes another user's data).
        type_: OpenAI error type, e.g. "invalid_request_error".
        code: Machine-readable code, e.g. "invalid_api_key".
        param: The offending request field, if any.
    """

    def __init__(self, status: int, message: str, type_: str = "invalid_request_error", code: str | None = None,
                 param: str | None = None):
        super().__init__(message)
        self.status, self.message, self.type, self.code, self.param = status, message, type_, code, param

    def body(self) -> dict:
        return {"error": {"message": self.message, "type": self.type, "param": self.param, "code": self.code}}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="ignore")


class TextPart(_Strict):
    type: Literal["text"]
    text: StrictStr


class Message(_Strict):
    role: Literal["system", "developer", "user", "assistant"]
    content: StrictStr | list[TextPart]

    def text(self) -> str:
        return self.content if isinstance(self.content, str) else "".join(p.text for p in self.content)


class StreamOptions(_Strict):
    include_usage: StrictBool = False


class ChatRequest(_Strict):
    """The body of POST /v1/chat/completions (the fields this server reads)."""

    model: StrictStr | None = None  # ignored for routing: the API key alone picks the adapter
    messages: list[Message] = Field(min_length=1, max_length=256)
    stream: StrictBool = False
    stream_options: StreamOptions | None = None
    max_tokens: StrictInt | None = Field(default=None, ge=1)
    max_completion_tokens: StrictInt | None = Field(default=None, ge=1)
    n: StrictInt = Field(default=1, ge=1, le=1)
    stop: StrictStr | list[StrictStr] | None = None
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, ge=0, le=1)

    @field_validator("stop")
    @classmethod
    def _stops(cls, value):
        stops = [value] if isinstance(value, str) else list(value or [])
        if len(stops) > 4 or any(not s for s in stops):
            raise ValueError("stop takes at most 4 non-empty strings")
        return stops

    def chat(self) -> list[dict]:
        """The conversation as {"role", "content"} dicts; developer turns count as system turns."""
        return [{"role": "system" if m.role == "developer" else m.role, "content": m.text()} for m in self.messages]


def parse_request(data: object) -> ChatRequest:
    """Validates a decoded JSON body.

    Raises:
        ApiError: 400 naming the first offending field.
    """
    if not isinstance(data, dict):
        raise ApiError(400, "request body must be a JSON object")
    try:
        return ChatRequest.model_validate(data)
    except ValidationError as e:
        # Union branches add their type to the location ("content.list[TextPart].0.type"); drop those, and report
        # the most specific error (for content=[{"type": "image_url"}], the bad part rather than "not a string").
        located = [([p for p in err["loc"] if not _UNION_TAG.fullmatch(str(p))], err["msg"]) for err in e.errors()]
        loc, msg = max(located, key=lambda x: len(x[0]))
        where = ".".join(str(p) for p in loc) or None
        raise ApiError(400, f"{where}: {msg}" if where else msg, param=where) from None


def completion_id() -> str:
    return "chatcmpl-" + secrets.token_hex(12)


def usage(prompt_tokens: int, completion_tokens: int) -> dict:
    return {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens}


def completion_body(cid: str, model: str, text: str, finish_reason: str, usage_: dict) -> dict:
    """A `chat.completion` object."""
    return {
        "id": cid, "object": "chat.completion", "created": int(time.time()), "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": finish_reason,
                     "logprobs": None}],
        "usage": usage_, "system_fingerprint": None,
    }


def chunk_body(cid: str, model: str, delta: dict, finish_reason: str | None = None, usage_: dict | None = None,
               choices: bool = True) -> dict:
    """A `chat.completion.chunk` object; choices=False gives the final usage-only chunk."""
    body = {"id": cid, "object": "chat.completion.chunk", "created": int(time.time()), "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason, "logprobs": None}] if choices
            else [], "system_fingerprint": None}
    if usage_ is not None:
        body["usage"] = usage_
    return body
