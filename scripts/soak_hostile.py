"""Hostile clients for scripts/soak.sh: slow heads, idle sockets, garbage bodies, and clients
that hang up mid-stream, a few per second for the whole soak. Prints one JSON object: how many
of each, and how many chat requests reached the gateway (each must leave one record)."""
import json
import random
import socket
import sys
import threading
import time

PORT, SECONDS = int(sys.argv[1]), float(sys.argv[2])
END = time.monotonic() + SECONDS
counts = {"slow_heads": 0, "idle_sockets": 0, "garbage_bodies": 0, "mid_stream_hangups": 0,
          "chat_requests": 0, "unexpected": 0}
lock = threading.Lock()


def bump(key, n=1):
    with lock:
        counts[key] += n


def connect():
    s = socket.create_connection(("127.0.0.1", PORT), timeout=30)
    s.settimeout(30)
    return s


def until_closed(s):
    try:
        while s.recv(4096):
            pass
    except OSError:
        pass
    s.close()


def slow_head():
    s = connect()
    try:
        for byte in b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: appl":
            s.send(bytes([byte]))
            time.sleep(0.2)
    except OSError:
        pass
    until_closed(s)
    bump("slow_heads")


def idle_socket():
    until_closed(connect())
    bump("idle_sockets")


def garbage_body():
    body = random.choice([b"{not json", b"[]", b'{"model": 5}', bytes(random.getrandbits(8) for _ in range(200))])
    s = connect()
    s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
              b"Connection: close\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
    head = s.recv(64)
    s.close()
    bump("garbage_bodies")
    bump("chat_requests")
    if not head.startswith(b"HTTP/1.1 400"):
        bump("unexpected")


def hang_up_mid_stream():
    body = json.dumps({"model": "soak", "stream": True,
                       "messages": [{"role": "user", "content": "hi"}]}).encode()
    s = connect()
    s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
              b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
    s.recv(256)
    s.close()
    bump("mid_stream_hangups")
    bump("chat_requests")


def worker(kind):
    while time.monotonic() < END:
        try:
            kind()
        except OSError:
            bump("unexpected")
        time.sleep(random.uniform(0.2, 1.0))


threads = [threading.Thread(target=worker, args=(k,), daemon=True)
           for k in (slow_head, slow_head, idle_socket, idle_socket, garbage_body, hang_up_mid_stream)]
for t in threads:
    t.start()
for t in threads:
    t.join(timeout=SECONDS + 90)
print(json.dumps(counts))
