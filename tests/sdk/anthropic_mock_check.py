"""Drives the loadtest mock's Anthropic Messages API with the official Anthropic Python SDK, to
prove the mock speaks Anthropic's wire format as that SDK parses it (the Anthropic adapter is
tested against this mock). Usage: python3 anthropic_mock_check.py http://127.0.0.1:PORT

The base URL is the mock's root (the SDK adds /v1/messages itself). Exits 0 when every check
passes, 1 on a failed check, 3 when the `anthropic` package is missing.
"""

import json
import sys

try:
    import anthropic
except ImportError as e:  # pragma: no cover - environment problem, not a mock problem
    print(
        f"the anthropic Python package is not installed ({e}): run scripts/test.sh, which "
        "installs it (or `python3 -m pip install anthropic`)",
        file=sys.stderr,
    )
    sys.exit(3)


MODEL = "claude-mock"
TOOL_ARGS = {"city": "Paris", "days": 3}
TOOL_MODEL = (
    MODEL + "?tool_call=lookup&chunks=4&args=%7B%22city%22%3A%22Paris%22%2C%22days%22%3A3%7D"
)
TOOLS = [{
    "name": "lookup",
    "description": "weather for a city",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}, "days": {"type": "integer"}}},
}]


def check(condition, what):
    if not condition:
        raise AssertionError(what)


def main(base):
    client = anthropic.Anthropic(base_url=base, api_key="sk-ant-sdk", max_retries=0, timeout=10)
    messages = [{"role": "user", "content": "Say hello, please."}]

    # 1. A plain message.
    message = client.messages.create(model=MODEL, max_tokens=64, system="Be brief.", messages=messages)
    check(message.type == "message" and message.role == "assistant", f"message: {message}")
    check(message.id.startswith("msg_"), f"id: {message.id}")
    check(message.model == MODEL, f"model: {message.model}")
    check(len(message.content) == 1 and message.content[0].type == "text", f"content: {message.content}")
    check(message.content[0].text == "Hello from mock", f"text: {message.content}")
    check(message.stop_reason == "end_turn", f"stop_reason: {message.stop_reason}")
    check(message.usage.input_tokens > 0 and message.usage.output_tokens > 0, f"usage: {message.usage}")
    print("ok: messages.create")

    # 2. A stream through the SDK's stream helper, which checks the event order as it
    #    accumulates the message; and the raw events.
    with client.messages.stream(model=MODEL + "?chunks=4&pings=2", max_tokens=64, messages=messages) as stream:
        pieces = list(stream.text_stream)
        final = stream.get_final_message()
    check("".join(pieces) == "Hello from mock", f"stream pieces: {pieces}")
    check(len(pieces) == 4, f"stream pieces: {pieces}")
    check(final.content[0].text == "Hello from mock", f"final: {final}")
    check(final.stop_reason == "end_turn", f"final stop_reason: {final.stop_reason}")
    check(final.usage.output_tokens > 0 and final.usage.input_tokens > 0, f"final usage: {final.usage}")
    kinds = [event.type for event in client.messages.create(
        model=MODEL, max_tokens=64, messages=messages, stream=True)]
    check(kinds[0] == "message_start" and kinds[-1] == "message_stop", f"events: {kinds}")
    for kind in ("content_block_start", "content_block_delta", "content_block_stop", "message_delta"):
        check(kind in kinds, f"no {kind} in {kinds}")
    print(f"ok: messages.stream ({len(pieces)} text deltas)")

    # 3. Tool use, whole and streamed (input_json_delta fragments joined by the SDK).
    message = client.messages.create(model=TOOL_MODEL, max_tokens=64, messages=messages, tools=TOOLS,
                                     tool_choice={"type": "any"})
    block = message.content[0]
    check(block.type == "tool_use" and block.name == "lookup", f"tool block: {message.content}")
    check(block.id.startswith("toolu_"), f"tool id: {block.id}")
    check(block.input == TOOL_ARGS, f"tool input: {block.input}")
    check(message.stop_reason == "tool_use", f"tool stop_reason: {message.stop_reason}")
    fragments = []
    with client.messages.stream(model=TOOL_MODEL, max_tokens=64, messages=messages, tools=TOOLS) as stream:
        for event in stream:
            if event.type == "content_block_delta" and event.delta.type == "input_json_delta":
                fragments.append(event.delta.partial_json)
        final = stream.get_final_message()
    check(len(fragments) == 4, f"json fragments: {fragments}")
    check(json.loads("".join(fragments)) == TOOL_ARGS, f"joined fragments: {fragments}")
    block = final.content[0]
    check(block.type == "tool_use" and block.input == TOOL_ARGS, f"streamed tool block: {final.content}")
    check(final.stop_reason == "tool_use", f"streamed tool stop_reason: {final.stop_reason}")
    print("ok: tool use")

    # 4. Errors: HTTP statuses map to the SDK's exception classes with Anthropic's error body,
    #    and an `error` event mid-stream raises.
    for status, cls, kind in [
        (400, anthropic.BadRequestError, "invalid_request_error"),
        (429, anthropic.RateLimitError, "rate_limit_error"),
        (529, anthropic.APIStatusError, "overloaded_error"),
    ]:
        try:
            client.messages.create(model=f"{MODEL}?fail={status}", max_tokens=64, messages=messages)
        except cls as e:
            check(e.status_code == status, f"status: {e.status_code}")
            check(isinstance(e.body, dict) and e.body.get("error", {}).get("type") == kind, f"body: {e.body}")
        else:
            raise AssertionError(f"fail={status} did not raise {cls.__name__}")
    try:
        with client.messages.stream(model=f"{MODEL}?error_event=overloaded_error", max_tokens=64,
                                    messages=messages) as stream:
            for _ in stream:
                pass
    except anthropic.APIStatusError as e:
        check("overloaded" in str(e).lower() or "overloaded" in json.dumps(e.body or {}), f"error event: {e}")
    else:
        raise AssertionError("an error event did not raise")
    print("ok: errors")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    try:
        main(sys.argv[1].rstrip("/"))
    except AssertionError as e:
        print(f"FAILED: {e}", file=sys.stderr)
        sys.exit(1)
