"""Drives a running Switchboard with the official OpenAI Python SDK, the way a team would after
swapping its base URL. Usage: python3 openai_sdk_check.py http://127.0.0.1:PORT

Expects the gateway's config to have `voice-fast` (plain text answers) and `agent` (a streamed
tool call to `lookup` with arguments {"city": "Paris"}). Exits 0 when every check passes,
1 on a failed check, 3 when the `openai` package is missing.
"""

import json
import sys

try:
    import openai
except ImportError as e:  # pragma: no cover - environment problem, not a gateway problem
    print(
        f"the openai Python package is not installed ({e}): run scripts/test.sh, which installs it "
        "(or `python3 -m pip install openai`)",
        file=sys.stderr,
    )
    sys.exit(3)


def check(condition, what):
    if not condition:
        raise AssertionError(what)


def main(base):
    client = openai.OpenAI(base_url=f"{base}/v1", api_key="sk-client", max_retries=0, timeout=10)
    messages = [{"role": "user", "content": "hola"}]

    # 1. A plain call, with Switchboard's headers visible through the raw response.
    raw = client.chat.completions.with_raw_response.create(model="voice-fast", messages=messages)
    completion = raw.parse()
    check(completion.choices[0].message.content == "Hello from mock", f"non-stream content: {completion}")
    check(completion.choices[0].finish_reason == "stop", f"finish_reason: {completion}")
    check(completion.usage is not None and completion.usage.total_tokens > 0, f"usage: {completion.usage}")
    check(raw.headers.get("x-switchboard-provider") == "openai", f"headers: {dict(raw.headers)}")
    print("ok: non-stream")

    # 2. A stream read chunk by chunk.
    pieces = []
    finish = None
    with client.chat.completions.create(model="voice-fast", messages=messages, stream=True) as stream:
        for chunk in stream:
            if chunk.choices:
                pieces.append(chunk.choices[0].delta.content or "")
                finish = chunk.choices[0].finish_reason or finish
    check("".join(pieces) == "Hello from mock", f"stream content: {pieces}")
    check(finish == "stop", f"stream finish_reason: {finish}")
    print(f"ok: stream ({len(pieces)} chunks)")

    # 3. A streamed tool call, assembled from its deltas as the SDK's users do.
    tools = [{"type": "function", "function": {"name": "lookup", "parameters": {
        "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]
    calls = {}
    finish = None
    stream = client.chat.completions.create(model="agent", messages=messages, tools=tools, stream=True)
    for chunk in stream:
        if not chunk.choices:
            continue
        choice = chunk.choices[0]
        finish = choice.finish_reason or finish
        for delta in choice.delta.tool_calls or []:
            call = calls.setdefault(delta.index, {"id": None, "name": None, "arguments": ""})
            call["id"] = delta.id or call["id"]
            if delta.function is not None:
                call["name"] = delta.function.name or call["name"]
                call["arguments"] += delta.function.arguments or ""
    check(len(calls) == 1, f"tool calls: {calls}")
    call = calls[0]
    check(call["id"] and call["name"] == "lookup", f"tool call: {call}")
    check(json.loads(call["arguments"]) == {"city": "Paris"}, f"tool arguments: {call}")
    check(finish == "tool_calls", f"tool finish_reason: {finish}")
    print("ok: streamed tool call")

    # 4. An unknown model raises the SDK's NotFoundError carrying Switchboard's message.
    try:
        client.chat.completions.create(model="no-such-model", messages=messages)
    except openai.NotFoundError as e:
        check(e.status_code == 404, f"status: {e.status_code}")
        check("no-such-model" in e.message, f"message: {e.message}")
        check(e.code == "model_not_found", f"code: {e.code}")
        check(e.type == "invalid_request_error", f"type: {e.type}")
        print("ok: NotFoundError")
    else:
        raise AssertionError("an unknown model did not raise openai.NotFoundError")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    try:
        main(sys.argv[1].rstrip("/"))
    except AssertionError as e:
        print(f"FAILED: {e}", file=sys.stderr)
        sys.exit(1)
