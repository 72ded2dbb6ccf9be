#!/usr/bin/env python3
# SPDX-License-Identifier: BSL-1.0
"""What an attacker can make `llmux serve` hold: memory and descriptors before and after
(1) 600 distinct model ids (half rejected upstream, half answering), (2) 2,000 idle
connections from one address (127.0.0.2), (3) 200 unauthenticated requests announcing 8 MB bodies each —
and whether a legitimate request is still served meanwhile. Loopback only, bounded in count and
time; prints one line per phase.

Usage: benchmarks/gateway/attack.py build/llmux
"""
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

BIN = sys.argv[1] if len(sys.argv) > 1 else "build/llmux"
KEY = "sk-attack-test-key"


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def fds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def request(url, model, key=KEY, timeout=10):
    body = json.dumps({"model": model, "messages": [{"role": "user", "content": "hi"}]}).encode()
    req = urllib.request.Request(url + "/v1/chat/completions", data=body,
                                 headers={"Authorization": f"Bearer {key}",
                                          "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


def main():
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as cfg:
        json.dump({"gateway": {"keys": [{"name": "attacker", "key_env": "GW_KEY"}],
                               "any_model": True, "access_log": False,
                               "header_timeout": "2s"}}, cfg)
    env = {"PATH": os.environ["PATH"], "GW_KEY": KEY, "HOME": "/tmp"}
    p = subprocess.Popen([BIN, "serve", "--port", "0", "--threads", "1", "--config", cfg.name],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, text=True)
    url = None
    deadline = time.time() + 20
    while time.time() < deadline and not url:
        line = p.stdout.readline()
        m = re.search(r"gateway listening on (http://127\.0\.0\.1:\d+)", line)
        if m:
            url = m.group(1)
    if not url:
        p.kill()
        sys.exit("llmux serve printed no URL")
    try:
        assert request(url, "openai/gpt-4o-mini") == 200
        print(f"start: rss {rss_kb(p.pid) / 1024:.1f} MiB, fds {fds(p.pid)}")

        t0 = time.time()
        for i in range(300):
            request(url, f"openai/missing-{i}~error=404")
            request(url, f"openai/model-{i}")
        metrics = urllib.request.urlopen(urllib.request.Request(
            url + "/metrics", headers={"Authorization": f"Bearer {KEY}"}), timeout=10).read().decode()
        series = len(re.findall(r'^llmux_gateway_requests_total\{model=', metrics, re.M))
        print(f"600 distinct model ids ({time.time() - t0:.1f} s): rss {rss_kb(p.pid) / 1024:.1f} MiB, "
              f"/metrics {len(metrics) / 1024:.0f} KiB with {series} model series")

        idle = []
        refused = 0
        for _ in range(2000):
            s = socket.socket()
            s.settimeout(5)
            s.bind(("127.0.0.2", 0))  # the attacker's address; the legitimate client is 127.0.0.1
            try:
                s.connect(("127.0.0.1", int(url.rsplit(":", 1)[1])))
                idle.append(s)
            except OSError:
                refused += 1
        time.sleep(0.5)
        served = request(url, "openai/gpt-4o-mini")
        answered_503 = 0
        for s in idle:
            s.setblocking(False)
            try:
                if s.recv(64).startswith(b"HTTP/1.1 503"):
                    answered_503 += 1
            except OSError:
                pass
        print(f"2000 idle connections: {answered_503} answered 503, {refused} refused at connect; "
              f"rss {rss_kb(p.pid) / 1024:.1f} MiB, fds {fds(p.pid)}; a request meanwhile: {served}")
        time.sleep(2.5)  # the header timeout
        print(f"after the header timeout: fds {fds(p.pid)}")
        for s in idle:
            s.close()

        socks = []
        statuses = []
        for _ in range(200):
            s = socket.create_connection(("127.0.0.1", int(url.rsplit(":", 1)[1])), timeout=5,
                                         source_address=("127.0.0.3", 0))
            s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n"
                      b"Content-Type: application/json\r\nContent-Length: 8000000\r\n\r\n" + b"x" * 65536)
            socks.append(s)
        for s in socks:
            try:
                statuses.append(s.recv(64).split(b" ")[1].decode())
            except OSError:
                statuses.append("reset")
            s.close()
        counts = {k: statuses.count(k) for k in set(statuses)}
        print(f"200 unauthenticated 8 MB bodies: statuses {counts}; rss {rss_kb(p.pid) / 1024:.1f} MiB, "
              f"fds {fds(p.pid)}; a request meanwhile: {request(url, 'openai/gpt-4o-mini')}")
    finally:
        p.terminate()
        p.wait(10)
        os.unlink(cfg.name)


if __name__ == "__main__":
    main()
