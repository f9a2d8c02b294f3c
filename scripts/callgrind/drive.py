#!/usr/bin/env python3
"""Fixed-count driver for scripts/callgrind-rules.sh: PAIRS MQTT 3.1.1 publisher/subscriber
pairs (bench/p2p/i, or bench/rin/i -> the rule -> bench/rout/i); each publisher sends ROUNDS x
BURST QoS 0 messages of 64 bytes; each round waits until every subscriber got its messages.
With CG_PID set, zeroes that callgrind's counters before the first round and dumps them after
the last.

    drive.py MQTT_PORT p2p|rules PAIRS ROUNDS BURST"""
import json, os, selectors, socket, struct, subprocess, sys, time

def rl(n):
    out = b""
    while True:
        b = n % 128; n //= 128
        out += bytes([b | (0x80 if n else 0)])
        if not n: return out

def s(x): x = x.encode(); return struct.pack(">H", len(x)) + x

def connect(port, cid):
    c = socket.create_connection(("127.0.0.1", port))
    c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    body = s("MQTT") + bytes([4, 2]) + struct.pack(">H", 60) + s(cid)
    c.sendall(bytes([0x10]) + rl(len(body)) + body)
    r = c.recv(4)
    assert r[:2] == b"\x20\x02" and r[3] == 0, r
    return c

def subscribe(c, topic):
    body = struct.pack(">H", 1) + s(topic) + b"\x00"
    c.sendall(bytes([0x82]) + rl(len(body)) + body)
    r = b""
    while len(r) < 5: r += c.recv(5 - len(r))
    assert r[0] == 0x90 and r[4] == 0, r

def publish_bytes(topic, payload):
    body = s(topic) + payload
    return bytes([0x30]) + rl(len(body)) + body

def main():
    port, scenario, pairs, rounds, burst = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
    pin, pout = {"p2p": ("bench/p2p/", "bench/p2p/"), "rules": ("bench/rin/", "bench/rout/")}[scenario]
    # As ferrite-bench's: 8 bytes of timestamp, 8 of nonce, filler (not JSON).
    payload = bytes(8) + b"\x5a" * 8 + b"x" * 48
    subs = []
    for i in range(pairs):
        c = connect(port, f"cg-sub-{i}")
        subscribe(c, f"{pout}{i}")
        c.setblocking(False)
        subs.append(c)
    pubs = [connect(port, f"cg-pub-{i}") for i in range(pairs)]
    pkts = [publish_bytes(f"{pin}{i}", payload) * burst for i in range(pairs)]
    want = [len(publish_bytes(f"{pout}{i}", payload)) * burst for i in range(pairs)]
    # Probe until the path works (the rule may take a moment to apply), on pair 0.
    probe = publish_bytes(f"{pin}0", payload)
    subs[0].setblocking(True); subs[0].settimeout(0.5)
    while True:
        pubs[0].sendall(probe)
        try:
            d = subs[0].recv(1 << 16)
            if d: break
        except socket.timeout:
            pass
    time.sleep(1.0)  # swallow stragglers of the probe
    subs[0].settimeout(0.2)
    try:
        while subs[0].recv(1 << 16): pass
    except socket.timeout:
        pass
    subs[0].setblocking(False)
    cg = os.environ.get("CG_PID")
    if cg:
        subprocess.run(["callgrind_control", "-z", cg], check=True, capture_output=True)
    sel = selectors.DefaultSelector()
    for i, c in enumerate(subs): sel.register(c, selectors.EVENT_READ, i)
    got = [0] * pairs
    t0 = time.time()
    for r in range(rounds):
        for i, p in enumerate(pubs): p.sendall(pkts[i])
        target = [want[i] * (r + 1) for i in range(pairs)]
        deadline = time.time() + 120
        while any(got[i] < target[i] for i in range(pairs)):
            if time.time() > deadline:
                print(json.dumps({"error": "timeout", "round": r, "got": sum(got), "want": sum(target)}))
                sys.exit(1)
            for key, _ in sel.select(timeout=1):
                i = key.data
                try:
                    d = key.fileobj.recv(1 << 20)
                except BlockingIOError:
                    continue
                got[i] += len(d)
    if cg:
        subprocess.run(["callgrind_control", "-d", cg], check=True, capture_output=True)
    msgs = pairs * rounds * burst
    print(json.dumps({"scenario": scenario, "messages": msgs, "secs": round(time.time() - t0, 2)}))
    for c in pubs + subs:
        c.sendall(b"\xe0\x00"); c.close()

main()
