"""Reads one streamed chat completion through the official OpenAI Python SDK, as a voice
agent would, and prints what the caller got as one JSON line: the text in order, the chunk
ids, how many chunks carried a role, the finish reasons, and the error the SDK raised if the
stream ended with one. Usage: openai_stream_read.py BASE_URL MODEL"""

import json
import sys

try:
    import openai
except ImportError:
    sys.exit(3)

base_url, model = sys.argv[1], sys.argv[2]
client = openai.OpenAI(base_url=base_url + "/v1", api_key="sk-not-checked", max_retries=0)
got = {"text": "", "ids": [], "roles": 0, "finish_reasons": [], "error": None}
try:
    stream = client.chat.completions.create(
        model=model,
        messages=[{"role": "user", "content": "Read me my balance, please."}],
        stream=True,
    )
    for chunk in stream:
        got["ids"].append(chunk.id)
        for choice in chunk.choices:
            if choice.delta.role:
                got["roles"] += 1
            if choice.delta.content:
                got["text"] += choice.delta.content
            if choice.finish_reason:
                got["finish_reasons"].append(choice.finish_reason)
except openai.APIError as e:
    got["error"] = {"type": type(e).__name__, "message": str(e)}
print(json.dumps(got))
