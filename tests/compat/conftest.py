"""Fixtures: a real `ferrite serve` process on free ports with a fresh data directory."""

import http.server
import json
import os
import pathlib
import queue
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

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
    def __init__(self, extra_env=None, setup=None):
        """`setup(data_dir)` runs before the first start (to place files there)."""
        self.dir = tempfile.mkdtemp(prefix="ferrite-compat-")
        env = {
            "PATH": os.environ.get("PATH", ""),
            "FERRITE_DATA_DIR": self.dir,
            "FERRITE_MQTT_PORT": "0",
            "FERRITE_MQTTS_PORT": "0",
            "FERRITE_WS_PORT": "0",
            "FERRITE_WSS_PORT": "0",
            "FERRITE_HTTPS_PORT": "0",
            "FERRITE_API_PORT": "0",
            "FERRITE_LOG_LEVEL": "warn",
            "FERRITE_MQTT_MIN_KEEP_ALIVE_SECS": "1",
        }
        env.update(extra_env or {})
        self.env = env
        if setup:
            setup(self.dir)
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


# The API's key pair for tests; `ferrite env` and a generated pair are tested separately.
ACCESS_KEY_ID = "AKIAFERRITECOMPAT001"
SECRET_ACCESS_KEY = "compat/secret/key/000000000000000000000000"
ACCOUNT_ID = "123456789012"
REGION = "eu-west-1"


def postgres_schema():
    """A fresh schema in the test database, or None when no PostgreSQL URL is given."""
    url = os.environ.get("FERRITE_TEST_POSTGRES_URL")
    if not url:
        return None, None
    name = f"ferrite_compat_{os.getpid()}_{int(time.time() * 1000)}"
    subprocess.run(["psql", url, "-q", "-c", f"CREATE SCHEMA {name}"], check=True)
    sep = "&" if "?" in url else "?"
    return name, f"{url}{sep}options[search_path]={name}"


def drop_schema(name):
    url = os.environ["FERRITE_TEST_POSTGRES_URL"]
    subprocess.run(["psql", url, "-q", "-c", f"DROP SCHEMA {name} CASCADE"], check=False)


BACKENDS = ["embedded"]
if os.environ.get("FERRITE_TEST_POSTGRES_URL"):
    BACKENDS.append("postgres")
else:
    print("!! FERRITE_TEST_POSTGRES_URL is not set: the API suite runs on the embedded store only")


def start_api_server(backend, extra_env=None):
    """A server on `backend` ("embedded" or "postgres") with the reset hook on and a fixed key
    pair; stop it with `stop_api_server`."""
    env = {
        "FERRITE_ACCESS_KEY_ID": ACCESS_KEY_ID,
        "FERRITE_SECRET_ACCESS_KEY": SECRET_ACCESS_KEY,
        "FERRITE_ACCOUNT_ID": ACCOUNT_ID,
        "FERRITE_REGION": REGION,
        "FERRITE_TEST_HOOKS": "true",
        **(extra_env or {}),
    }
    schema = None
    if backend == "postgres":
        schema, url = postgres_schema()
        env["FERRITE_STORAGE_URL"] = url
    f = Ferrite(env)
    f.endpoint = f"http://127.0.0.1:{f.ports['api']}"
    f.backend = backend
    f.schema = schema
    return f


def stop_api_server(f):
    f.close()
    if f.schema:
        drop_schema(f.schema)


@pytest.fixture(scope="module", params=BACKENDS)
def api_server(request):
    """One server per module and backend."""
    f = start_api_server(request.param)
    yield f
    stop_api_server(f)


def aws_client(server, service="iot", secret=SECRET_ACCESS_KEY, key_id=ACCESS_KEY_ID):
    import boto3
    from botocore.config import Config

    return boto3.client(
        service,
        endpoint_url=server.endpoint,
        region_name=REGION,
        aws_access_key_id=key_id,
        aws_secret_access_key=secret,
        config=Config(retries={"max_attempts": 1}),
    )


@pytest.fixture
def iot(api_server):
    """A boto3 `iot` client on an empty account (the reset hook runs first)."""
    client = aws_client(api_server)
    reset(api_server)
    return client


@pytest.fixture
def mqtt_port(api_server, iot):
    """The plain MQTT port of the module's server, on an empty account."""
    return api_server.ports["mqtt"]


@pytest.fixture
def clients():
    """`make(client_id, **kw)` builds a `Client`; all are closed after the test.
    `reconnect=False` keeps a kicked client from reconnecting on its own (paho retries after a
    second), so the test decides when its client id comes back."""
    made = []

    def make(client_id, reconnect=True, **kw):
        c = Client(client_id, **kw)
        if not reconnect:
            c.c.reconnect_delay_set(min_delay=120, max_delay=120)
        made.append(c)
        return c

    yield make
    for c in made:
        try:
            c.close()
        except Exception:
            pass


def reset(server):
    """POST /_ferrite/reset, signed like any API call."""
    import botocore.auth
    import botocore.awsrequest
    import botocore.credentials
    import urllib.request

    url = f"{server.endpoint}/_ferrite/reset"
    req = botocore.awsrequest.AWSRequest(method="POST", url=url, data=b"")
    creds = botocore.credentials.Credentials(ACCESS_KEY_ID, SECRET_ACCESS_KEY)
    botocore.auth.SigV4Auth(creds, "iot", REGION).add_auth(req)
    prepared = req.prepare()
    r = urllib.request.Request(url, data=b"", method="POST", headers=dict(prepared.headers))
    with urllib.request.urlopen(r, timeout=WAIT) as resp:
        assert resp.status == 204


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


# --- an AWS-compatible endpoint for forwarded rule actions ---------------------------------


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def moto(tmp_path_factory):
    """moto's server on a free port, one per module (its state is in memory): the AWS services
    forwarded rule actions call. Skips, saying so, when moto[server] is not installed."""
    beside = pathlib.Path(sys.executable).parent / "moto_server"
    exe = str(beside) if beside.exists() else shutil.which("moto_server")
    if not exe:
        print("!! moto_server is not installed: the forwarding tests are SKIPPED")
        pytest.skip("moto_server is not installed (moto[server] in requirements.txt)")
    port = free_port()
    log_path = tmp_path_factory.mktemp("moto") / "moto.log"
    log = open(log_path, "wb")
    proc = subprocess.Popen([exe, "-H", "127.0.0.1", "-p", str(port)], stdout=log, stderr=log)
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=1):
                break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                log.close()
                print(f"!! moto_server did not start: the forwarding tests are SKIPPED "
                      f"({log_path.read_text(errors='replace')[-500:]})")
                pytest.skip("moto_server did not start")
            time.sleep(0.1)
    yield endpoint
    proc.terminate()
    proc.wait(timeout=10)
    log.close()


def moto_client(endpoint, service):
    """A boto3 client of moto's `service`, with the keys forwarded actions sign with."""
    import boto3

    return boto3.client(service, endpoint_url=endpoint, region_name=REGION,
                        aws_access_key_id="AKIDMOTO", aws_secret_access_key="moto-secret")


class JsonEndpoint:
    """A local HTTP endpoint playing a function (a Lambda, a pre-provisioning hook): each
    POSTed JSON body is queued in `calls` with the request's headers, and `answer(body)` gives
    the JSON it answers. Close it when done."""

    def __init__(self, answer, path="/"):
        self.calls = queue.Queue()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length", 0))
                event = json.loads(self.rfile.read(length))
                outer.calls.put((event, dict(self.headers)))
                body = json.dumps(answer(event)).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}{path}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()
