"""Drives Switchboard's Respan surface with the official Respan SDK (the `respan-api` package),
as logging code written for Respan would: create, bulk create, retrieve, list with filters and
pages; an unsupported field and a wrong key. Prints "ok: <step>" per step; exits 3 when the
package is missing. Usage: respan_sdk_check.py BASE_URL ADMIN_KEY"""

import json
import sys
import time
import urllib.request

try:
    from respan import RespanClient
    from respan.core.api_error import ApiError
    from respan.errors import BadRequestError
    from respan.types import SpanCreateRequest
except ImportError:
    sys.exit(3)

base_url, admin_key = sys.argv[1], sys.argv[2]
client = RespanClient(base_url=base_url, authorization="unused", respan_api_key=admin_key)


def check(condition, what):
    if not condition:
        print(f"FAILED: {what}")
        sys.exit(1)


# One call's turns, logged from elsewhere: two one by one, four in bulk.
thread = "call_sdk_1"
first = client.spans.create_span(
    model="gpt-4o-mini",
    prompt_messages=[{"role": "user", "content": "¿Cuál es mi saldo?"}],
    completion_message={"role": "assistant", "content": "Su saldo es 10 €."},
    prompt_tokens=12,
    completion_tokens=9,
    latency=0.42,
    time_to_first_token=0.12,
    cost=0.002,
    thread_identifier=thread,
    metadata={"language": "es", "use_case": "response"},
    customer_identifier="acct_7",
)
check(first.unique_id and first.id == first.unique_id, f"create_span returns the span: {first}")
second = client.spans.create_span(
    model="gpt-4o-mini",
    prompt_messages=[{"role": "user", "content": "Olá"}],
    completion_message={"role": "assistant", "content": "Olá!"},
    latency=1.20,
    time_to_first_token=0.65,
    cost=0.020,
    thread_identifier=thread,
    metadata={"language": "pt", "use_case": "greeting"},
)
print("ok: create_span")

bulk = client.spans.bulk_create_spans(
    logs=[
        SpanCreateRequest(model="claude-haiku", latency=0.90, time_to_first_token=0.51, cost=0.015,
                          thread_identifier=thread, metadata={"language": "en"}),
        SpanCreateRequest(model="claude-haiku", latency=2.50, status_code=502, thread_identifier=thread,
                          error_message="All 2 upstream attempts failed: prompt is too long"),
        SpanCreateRequest(model="gpt-4o-mini", latency=1.00, time_to_first_token=0.50, cost=0.011,
                          thread_identifier=thread, metadata={"language": "es"}),
        SpanCreateRequest(model="gpt-4o-mini", latency=1.60, time_to_first_token=0.80, cost=0.004,
                          thread_identifier=thread, metadata={"language": "es"}, status_code=429,
                          error_message="rate limited"),
    ]
)
check(bulk.success_count == 4 and bulk.error_count == 0 and bulk.errors == [], f"bulk: {bulk}")
print("ok: bulk_create_spans")

in_thread = {"thread_identifier": {"operator": "", "value": [thread]}}
deadline = time.time() + 15
while True:
    listed = list(client.spans.list_spans(filters=in_thread, page_size=100))
    if len(listed) == 6:
        break
    check(time.time() < deadline, f"the six spans were not listed: {len(listed)}")
    time.sleep(0.1)
by_latency = {span["latency"]: span["unique_id"] for span in listed}

# A score given elsewhere shows in the retrieved span, keyed by evaluator.
request = urllib.request.Request(
    f"{base_url}/api/logs/{first.unique_id}/scores",
    data=json.dumps({"evaluator_slug": "quality", "numerical_value": 0.9}).encode(),
    headers={"content-type": "application/json", "authorization": f"Bearer {admin_key}"},
)
urllib.request.urlopen(request, timeout=10).read()
span = client.spans.retrieve_span(first.unique_id)
check(span.id == first.unique_id and span.model == "gpt-4o-mini", f"retrieve: {span}")
check(span.time_to_first_token == 0.12 and span.metadata["language"] == "es", f"retrieve: {span}")
check(span.prompt_messages[0]["content"] == "¿Cuál es mi saldo?", f"retrieve: {span}")
check(span.prompt_tokens == 12 and span.completion_tokens == 9, f"retrieve tokens: {span}")
check(span.scores["quality"].numerical_value == 0.9, f"retrieve scores: {span.scores}")
check(span.customer_identifier == "acct_7", f"retrieve: {span}")
print("ok: retrieve_span")


def ids(filters):
    return {s["unique_id"] for s in client.spans.list_spans(filters={**in_thread, **filters}, page_size=100)}


def expect(filters, latencies, what):
    got = ids(filters)
    want = {by_latency[l] for l in latencies}
    check(got == want, f"{what}: got {sorted(got)}, want {sorted(want)}")


expect({"metadata__language": {"operator": "", "value": ["es"]}}, [0.42, 1.00, 1.60], "equality")
expect({"metadata__language": {"operator": "in", "value": ["es", "pt"]}}, [0.42, 1.20, 1.00, 1.60], "in")
expect({"metadata__language": {"operator": "not", "value": ["es"]}}, [1.20, 0.90], "not (keyless never match)")
expect({"time_to_first_token": {"operator": "gt", "value": [0.5]}}, [1.20, 0.90, 1.60], "gt")
expect({"latency": [{"operator": "gte", "value": [0.5]}, {"operator": "lt", "value": [1.5]}]},
       [1.20, 0.90, 1.00], "a range as two conditions")
expect({"cost": {"operator": "gte", "value": [0.01]}, "model": {"operator": "", "value": ["gpt-4o-mini"]}},
       [1.20, 1.00], "two fields")
expect({"status_code": {"operator": "not", "value": [200]}}, [2.50, 1.60], "not on a number")
expect({"error_message": {"operator": "icontains", "value": ["TOO LONG"]}}, [2.50], "icontains")
expect({"cost": {"operator": "empty", "value": [""]}}, [2.50], "empty")
expect({"model": {"operator": "startswith", "value": ["claude"]}}, [0.90, 2.50], "startswith")
print("ok: list_spans filters")

pager = client.spans.list_spans(filters=in_thread, page_size=2)
check(pager.response.count == 6, f"count: {pager.response.count}")
pages = [[s["unique_id"] for s in page.items] for page in pager.iter_pages()]
check([len(p) for p in pages] == [2, 2, 2], f"pages: {pages}")
flat = [i for p in pages for i in p]
check(len(set(flat)) == 6, f"every span once: {flat}")
starts = [s["start_time"] for s in client.spans.list_spans(filters=in_thread, page_size=100)]
check(starts == sorted(starts, reverse=True), f"newest first: {starts}")
print("ok: list_spans pages")

try:
    client.spans.list_spans(filters={"customer_email": {"operator": "", "value": ["a@b.c"]}}).items
    check(False, "an unsupported field was accepted")
except BadRequestError as e:
    check("customer_email" in json.dumps(e.body), f"the 400 names the field: {e.body}")
print("ok: BadRequestError")

wrong = RespanClient(base_url=base_url, authorization="unused", respan_api_key="not-the-key")
try:
    wrong.spans.retrieve_span(first.unique_id)
    check(False, "a wrong key was accepted")
except ApiError as e:
    # The SDK has no class of its own for a 401 on this call: it raises its ApiError.
    check(e.status_code == 401, f"a wrong key is a 401: {e.status_code}")
print("ok: 401 for a wrong key")
