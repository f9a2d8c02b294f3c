"""Fixtures: a real `ferrite serve` process on free ports with a fresh data directory."""

import json
import os
import pathlib
import queue
import shutil
import signal
import subprocess
import tempfile
import time

import paho.mqtt.client as mqtt
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
WAIT = 10.0


def ferrite_binary():
    env = os.environ.get("FERRITE_BIN")
    if env:
        return env
    for profile in ("release", "debug"):
        p = ROOT / "target" / profile / "ferrite"
        if p.exists():
            return str(p)
    raise RuntimeError("build ferrite first (cargo build) or set FERRITE_BIN")


class Ferrite:
    def __init__(self, extra_env=None):
        self.dir = tempfile.mkdtemp(prefix="ferrite-compat-")
        env = {
            "PATH": os.environ.get("PATH", ""),
            "FERRITE_DATA_DIR": self.dir,
            "FERRITE_MQTT_PORT": "0",
            "FERRITE_MQTTS_PORT": "0",
            "FERRITE_WS_PORT": "0",
            "FERRITE_WSS_PORT": "0",
            "FERRITE_API_PORT": "0",
            "FERRITE_LOG_LEVEL": "warn",
            "FERRITE_MQTT_MIN_KEEP_ALIVE_SECS": "1",
        }
        env.update(extra_env or {})
        self.env = env
        self.start()

    def start(self):
        listeners = pathlib.Path(self.dir) / "listeners.json"
        if listeners.exists():
            listeners.unlink()
        self.proc = subprocess.Popen([ferrite_binary(), "serve"], env=self.env)
        deadline = time.monotonic() + 20
        while not listeners.exists():
            if self.proc.poll() is not None:
                raise RuntimeError("ferrite exited during start-up")
            if time.monotonic() > deadline:
                raise RuntimeError("ferrite did not start")
            time.sleep(0.01)
        addrs = json.loads(listeners.read_text())
        self.ports = {k: int(v.rsplit(":", 1)[1]) for k, v in addrs.items() if v}
        self.ca_file = os.path.join(self.dir, "ca", "ca.pem")

    def stop(self, sig=signal.SIGTERM):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=20)

    def restart(self, sig=signal.SIGTERM):
        self.stop(sig)
        self.start()

    def close(self):
        self.stop(signal.SIGKILL)
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def ferrite():
    f = Ferrite()
    yield f
    f.close()


class Client:
    """A paho client whose events land in queues, so tests wait with timeouts, never sleeps."""

    def __init__(self, client_id, protocol=mqtt.MQTTv311, transport="tcp", clean=True):
        kwargs = {"callback_api_version": mqtt.CallbackAPIVersion.VERSION2,
                  "client_id": client_id, "protocol": protocol, "transport": transport}
        if protocol != mqtt.MQTTv5:
            kwargs["clean_session"] = clean
        self.clean = clean
        self.c = mqtt.Client(**kwargs)
        self.protocol = protocol
        self.messages = queue.Queue()
        self.connacks = queue.Queue()
        self.disconnects = queue.Queue()
        self.subacks = queue.Queue()
        self.c.on_connect = lambda c, u, flags, rc, props: self.connacks.put((flags, rc, props))
        self.c.on_message = lambda c, u, m: self.messages.put(m)
        self.c.on_disconnect = lambda c, u, flags, rc, props: self.disconnects.put(rc)
        self.c.on_subscribe = lambda c, u, mid, rcs, props: self.subacks.put(rcs)

    def connect(self, port, host="127.0.0.1", properties=None, keepalive=60):
        if self.protocol == mqtt.MQTTv5:
            self.c.connect(host, port, keepalive=keepalive, clean_start=self.clean, properties=properties)
        else:
            self.c.connect(host, port, keepalive=keepalive)
        self.c.loop_start()
        flags, rc, props = self.connacks.get(timeout=WAIT)
        assert not rc.is_failure, rc
        return flags, props

    def subscribe(self, topic, qos=1, **kw):
        self.c.subscribe(topic, qos, **kw)
        rcs = self.subacks.get(timeout=WAIT)
        assert all(not rc.is_failure for rc in rcs), rcs
        return rcs

    def publish(self, topic, payload, qos=1, retain=False, properties=None):
        info = self.c.publish(topic, payload, qos=qos, retain=retain, properties=properties)
        info.wait_for_publish(timeout=WAIT)
        assert info.is_published()
        return info

    def get(self, timeout=WAIT):
        return self.messages.get(timeout=timeout)

    def expect_none(self, timeout=0.3):
        with pytest.raises(queue.Empty):
            self.messages.get(timeout=timeout)

    def close(self):
        try:
            self.c.disconnect()
        finally:
            self.c.loop_stop()
