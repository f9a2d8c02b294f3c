"""A three-node cluster of real `ferrite serve` processes on one PostgreSQL schema and one NATS
server, driven by the clients users use (paho-mqtt, boto3): routing between nodes, shared
subscriptions across nodes, retained messages, take-over and a persistent session that survives
its node being killed, revocation and shadows through any node, and outages of NATS and
PostgreSQL.

The NATS server is the test's own (`nats-server` on a free port), so that restarting it disturbs
nothing else; PostgreSQL is the machine's, reached through a TCP proxy the test can cut, which
is what a PostgreSQL restart looks like from the nodes (every connection drops, new ones are
refused until it is back)."""

import concurrent.futures
import json
import os
import queue
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid

import paho.mqtt.client as mqtt
import pytest

from conftest import (ACCESS_KEY_ID, ACCOUNT_ID, REGION, SECRET_ACCESS_KEY, WAIT, Client,
                      Ferrite, aws_client, drop_schema, free_port, postgres_schema)

NATS_BIN = shutil.which("nats-server") or ("/usr/sbin/nats-server" if os.path.exists("/usr/sbin/nats-server") else None)

if not os.environ.get("FERRITE_TEST_POSTGRES_URL"):
    pytest.skip("!! FERRITE_TEST_POSTGRES_URL is not set: the cluster tests need PostgreSQL", allow_module_level=True)
if NATS_BIN is None:
    pytest.skip("!! nats-server is not installed: the cluster tests need NATS", allow_module_level=True)


def wait_until(check, timeout=WAIT, what="condition"):
    """Polls `check` (a cheap, side-effect-free probe) until it returns a true value."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def port_open(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


class NatsServer:
    """The test's own NATS server; `restart` stops it and starts it again on the same port."""

    def __init__(self):
        self.port = free_port()
        self.start()

    def start(self):
        self.proc = subprocess.Popen([NATS_BIN, "-a", "127.0.0.1", "-p", str(self.port)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_until(lambda: port_open(self.port), what="nats-server to listen")

    @property
    def url(self):
        return f"nats://127.0.0.1:{self.port}"

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=WAIT)

    def restart(self):
        self.stop()
        self.start()


class TcpProxy:
    """Forwards a local port to `target`. `cut()` drops every connection and refuses new ones,
    `restore()` accepts again."""

    def __init__(self, target_host, target_port):
        self.target = (target_host, target_port)
        self.port = free_port()
        self.lock = threading.Lock()
        self.socks = []
        self.listener = None
        self.restore()

    def restore(self):
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", self.port))
        s.listen(128)
        self.listener = s
        threading.Thread(target=self._accept, args=(s,), daemon=True).start()

    def _accept(self, listener):
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=WAIT)
            except OSError:
                client.close()
                continue
            with self.lock:
                self.socks += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(src, dst):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def cut(self):
        self.listener.close()
        with self.lock:
            socks, self.socks = self.socks, []
        for s in socks:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()


class Cluster:
    """Three nodes n1..n3 sharing a fresh PostgreSQL schema (through the proxy) and the test's
    NATS; the device CA is node 1's on every node, as behind one load balancer."""

    def __init__(self, size=3):
        self.nats = NatsServer()
        self.schema, url = postgres_schema()
        base = os.environ["FERRITE_TEST_POSTGRES_URL"]
        hostport = base.split("@", 1)[1].split("/", 1)[0]
        host, port = hostport.rsplit(":", 1) if ":" in hostport else (hostport, "5432")
        self.pg = TcpProxy(host, int(port))
        url = url.replace(f"@{hostport}/", f"@127.0.0.1:{self.pg.port}/", 1)
        self.env = {
            "FERRITE_STORAGE_URL": url,
            "FERRITE_CLUSTER_ENABLED": "true",
            "FERRITE_CLUSTER_NATS_URLS": self.nats.url,
            "FERRITE_CLUSTER_SUBJECT_PREFIX": f"ft{uuid.uuid4().hex[:10]}",
            "FERRITE_ACCESS_KEY_ID": ACCESS_KEY_ID,
            "FERRITE_SECRET_ACCESS_KEY": SECRET_ACCESS_KEY,
            "FERRITE_ACCOUNT_ID": ACCOUNT_ID,
            "FERRITE_REGION": REGION,
        }
        self.nodes = []
        for i in range(size):
            self.nodes.append(self._node(i))

    def _node(self, i):
        env = dict(self.env, FERRITE_CLUSTER_NODE_ID=f"n{i + 1}")
        setup = None
        if self.nodes:
            ca = os.path.join(self.nodes[0].dir, "ca")
            setup = lambda d: shutil.copytree(ca, os.path.join(d, "ca"))  # noqa: E731
        f = Ferrite(env, setup=setup)
        f.endpoint = f"http://127.0.0.1:{f.ports['api']}"
        return f

    def health(self, node):
        try:
            with urllib.request.urlopen(f"{node.endpoint}/health", timeout=WAIT) as r:
                return json.loads(r.read())
        except urllib.error.HTTPError as e:
            return json.loads(e.read() or b"{}") | {"status_code": e.code}

    def queued(self, client_id):
        """Messages stored in PostgreSQL for `client_id`'s offline session."""
        out = subprocess.run(
            ["psql", os.environ["FERRITE_TEST_POSTGRES_URL"], "-tAc",
             f"SELECT count(*) FROM {self.schema}.broker_queue WHERE client_id = '{client_id}'"],
            check=True, capture_output=True, text=True)
        return int(out.stdout.strip())

    def close(self):
        for n in self.nodes:
            n.close()
        self.nats.stop()
        self.pg.cut()
        drop_schema(self.schema)


@pytest.fixture(scope="module")
def cluster():
    c = Cluster()
    yield c
    c.close()


@pytest.fixture
def a(cluster):
    return cluster.nodes[0]


@pytest.fixture
def b(cluster):
    return cluster.nodes[1]


@pytest.fixture
def c(cluster):
    return cluster.nodes[2]


def unique(name):
    return f"{name}-{uuid.uuid4().hex[:8]}"


def received(client, n, timeout=WAIT):
    return [client.get(timeout=timeout) for _ in range(n)]


def routed(sub, pub, topic, qos=1, timeout=WAIT):
    """Publishes probes on `topic` until `sub` receives one: the moment a new subscription has
    reached the other nodes through the bus (interest travels asynchronously)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pub.publish(topic, b"probe", qos=qos)
        try:
            m = sub.get(timeout=0.2)
        except queue.Empty:
            continue
        assert m.payload == b"probe"
        while True:  # later probes that were already on their way
            try:
                sub.get(timeout=0.3)
            except queue.Empty:
                return
    raise AssertionError(f"{topic} was not routed to the subscriber's node in time")


@pytest.mark.parametrize("qos", [0, 1])
def test_a_subscriber_on_a_receives_what_a_publisher_on_c_sends(a, c, clients, qos):
    topic = unique("cross/qos")
    sub = clients(unique("sub"))
    sub.connect(a.ports["mqtt"])
    sub.subscribe(topic, qos=qos)
    pub = clients(unique("pub"))
    pub.connect(c.ports["mqtt"])
    routed(sub, pub, topic, qos=qos)
    for i in range(50):
        pub.publish(topic, f"m{i}".encode(), qos=qos)
    got = [m.payload.decode() for m in received(sub, 50)]
    assert got == [f"m{i}" for i in range(50)], "one copy of each message, in order"
    sub.expect_none(0.3)


def test_a_retained_message_published_on_c_is_given_to_a_new_subscriber_on_a(a, b, c, clients):
    topic = unique("retained/cross")
    pub = clients(unique("pub"))
    pub.connect(c.ports["mqtt"])
    pub.publish(topic, b"kept", qos=1, retain=True)

    def retained_on(node):
        s = clients(unique("late"))
        s.connect(node.ports["mqtt"])
        s.subscribe(topic, qos=1)
        try:
            m = s.get(timeout=1)
        except queue.Empty:
            return None
        finally:
            s.close()
        return m

    for node in (a, b):
        m = wait_until(lambda: retained_on(node), what="the retained message on another node")
        assert (m.payload, m.retain) == (b"kept", True)

    # Cleared on one node: gone on every node.
    pub.publish(topic, b"", qos=1, retain=True)
    for node in (a, b):
        wait_until(lambda: retained_on(node) is None, what="the retained message to be cleared")


def test_a_shared_subscription_balances_across_nodes(a, b, c, clients):
    topic = unique("shared/work")
    members = []
    for node in (a, b):
        m = clients(unique("worker"))
        m.connect(node.ports["mqtt"])
        m.subscribe(f"$share/workers/{topic}", qos=1)
        members.append(m)
    pub = clients(unique("pub"))
    pub.connect(c.ports["mqtt"])
    # Both members' interest has reached the bus once each has received a probe.
    deadline = time.monotonic() + WAIT
    while not all(m.messages.qsize() for m in members):
        assert time.monotonic() < deadline, "each member to be reachable"
        pub.publish(topic, b"probe", qos=1)
        time.sleep(0.05)
    # From here on, both members' messages land in one queue, tagged with the member.
    both = queue.Queue()
    for idx, m in enumerate(members):
        m.c.on_message = lambda _c, _u, msg, idx=idx: both.put((idx, msg.payload.decode()))
    n = 200
    for i in range(n):
        pub.publish(topic, f"job{i}".encode(), qos=1)
    got = []
    while sum(1 for _, p in got if p != "probe") < n:
        got.append(both.get(timeout=WAIT))
    payloads = sorted(p for _, p in got if p != "probe")
    assert payloads == sorted(f"job{i}" for i in range(n)), "each message to exactly one member"
    per_member = [sum(1 for i, p in got if i == idx and p != "probe") for idx in range(2)]
    assert all(k > 0 for k in per_member), f"both nodes' members get work: {per_member}"
    with pytest.raises(queue.Empty):
        while True:
            assert both.get(timeout=0.3)[1] == "probe", "no message twice"


def test_connecting_on_another_node_takes_the_session_over(a, b, clients):
    cid = unique("roamer")
    old = clients(cid, protocol=mqtt.MQTTv5, reconnect=False)
    old.connect(a.ports["mqtt"])
    new = clients(cid, protocol=mqtt.MQTTv5, reconnect=False)
    new.connect(b.ports["mqtt"])
    rc = old.disconnects.get(timeout=WAIT)
    assert rc.value == 0x8E, f"session taken over (0x8E), got {rc}"
    # The new connection stays.
    new.expect_none(0.3)
    assert new.c.is_connected()


def test_a_persistent_session_resumes_on_b_after_its_node_is_killed(cluster, a, b, c, clients):
    cid = unique("persistent")
    topic = unique("persist/q")
    dev = clients(cid, clean=False, reconnect=False)
    dev.connect(a.ports["mqtt"])
    dev.subscribe(topic, qos=1)
    pub = clients(unique("pub"))
    pub.connect(c.ports["mqtt"])
    routed(dev, pub, topic)
    dev.close()
    n = 20
    for i in range(n):
        pub.publish(topic, f"q{i}".encode(), qos=1)  # each PUBACKed
    # Node C's PUBACK does not yet wait for node A to store the message (README: "Not yet"):
    # wait until A has queued all of them in PostgreSQL before killing it.
    wait_until(lambda: cluster.queued(cid) >= n, what="node A to store the queued messages")
    a.stop(signal.SIGKILL)
    try:
        dev2 = clients(cid, clean=False, reconnect=False)
        flags, _ = dev2.connect(b.ports["mqtt"])
        assert flags.session_present, "the session is resumed on node B"
        got = [m.payload.decode() for m in received(dev2, n)]
        assert got == [f"q{i}" for i in range(n)], "every acknowledged message, in order"
    finally:
        a.start()
        a.endpoint = f"http://127.0.0.1:{a.ports['api']}"


def test_a_certificate_revoked_through_b_disconnects_its_device_on_a(a, b):
    from test_device_auth import Device

    iot_b = aws_client(b)
    dev = Device(iot_b, a, unique("sensor"))
    c = dev.connect()
    try:
        iot_b.update_certificate(certificateId=dev.cert_id, newStatus="REVOKED")
        answered = time.monotonic()
        c.disconnects.get(timeout=5)
        # The bar: a change through any node acts on every node's connections within
        # a second (from the API's answer, when the change is durable).
        assert time.monotonic() - answered < 1.0
    finally:
        c.c.loop_stop()


def test_a_policy_detached_through_b_disconnects_its_device_on_a_within_a_second(a, b):
    from test_device_auth import Device

    iot_b = aws_client(b)
    dev = Device(iot_b, a, unique("sensor"))
    c = dev.connect()
    try:
        iot_b.detach_policy(policyName=dev.policy_name, target=dev.cert_arn)
        answered = time.monotonic()
        # AWS closes a connection whose policies no longer allow it to connect.
        c.disconnects.get(timeout=5)
        assert time.monotonic() - answered < 1.0
    finally:
        c.c.loop_stop()


def test_a_shadow_updated_concurrently_through_three_nodes_loses_no_update(cluster):
    thing = unique("lamp")
    aws_client(cluster.nodes[0]).create_thing(thingName=thing)
    per_node = 15

    def writer(i):
        data = aws_client(cluster.nodes[i], "iot-data")
        versions = []
        for k in range(per_node):
            out = data.update_thing_shadow(
                thingName=thing,
                payload=json.dumps({"state": {"reported": {f"n{i}": k}}}).encode())
            versions.append(json.loads(out["payload"].read())["version"])
        return versions

    with concurrent.futures.ThreadPoolExecutor(3) as pool:
        versions = [v for vs in pool.map(writer, range(3)) for v in vs]
    assert sorted(versions) == list(range(1, 3 * per_node + 1)), "versions 1..N, each once"
    doc = json.loads(aws_client(cluster.nodes[1], "iot-data").get_thing_shadow(thingName=thing)["payload"].read())
    assert doc["version"] == 3 * per_node
    assert doc["state"]["reported"] == {f"n{i}": per_node - 1 for i in range(3)}


def cross_node_works(sub, pub, topic):
    try:
        routed(sub, pub, topic, timeout=1)
        return True
    except AssertionError:
        return False


def test_a_nats_restart_is_survived(cluster, a, c, clients):
    topic = unique("after/nats")
    sub = clients(unique("sub"))
    sub.connect(a.ports["mqtt"])
    sub.subscribe(topic, qos=1)
    pub = clients(unique("pub"))
    pub.connect(c.ports["mqtt"])
    routed(sub, pub, topic)
    cluster.nats.restart()
    # The nodes reconnect and subscribe again: routing comes back without a restart of theirs.
    wait_until(lambda: cross_node_works(sub, pub, topic), timeout=30, what="routing after NATS restarted")
    for node in cluster.nodes:
        wait_until(lambda: cluster.health(node).get("cluster", {}).get("bus") == "connected",
                   timeout=30, what="every node's bus to be connected")


def test_a_postgresql_outage_is_survived(cluster, a, b):
    iot_a = aws_client(a)
    cluster.pg.cut()
    try:
        with pytest.raises(Exception) as err:
            iot_a.create_thing(thingName=unique("during-outage"))
        assert "ServiceUnavailable" in str(err.value) or "InternalFailure" in str(err.value), err.value
    finally:
        cluster.pg.restore()
    # Back without restarting anything: every node serves the API and devices again.
    name = unique("after-outage")

    def created():
        try:
            iot_a.create_thing(thingName=name)
            return True
        except Exception:
            return False

    wait_until(created, timeout=30, what="the API to work again after PostgreSQL returned")
    iot_b = aws_client(b)

    def described_on_b():
        # Node B notices PostgreSQL is back at its own next store check (one heartbeat).
        try:
            return iot_b.describe_thing(thingName=name)["thingName"]
        except iot_b.exceptions.ServiceUnavailableException:
            return None

    assert wait_until(described_on_b, timeout=30, what="node B to serve again") == name


def test_a_rule_created_through_one_node_runs_once_per_message_on_the_receiving_node(a, b, c, clients):
    from test_rules_engine import republish, until_output

    rule = unique("relay").replace("-", "_")
    src, dst = unique("rin"), unique("rout")
    sub = clients(unique("sub"))
    sub.connect(b.ports["mqtt"])
    sub.subscribe(f"{dst}/#")
    aws_client(a).create_topic_rule(ruleName=rule, topicRulePayload={
        "sql": f"SELECT n, clientid() AS by FROM '{src}/+'",
        "awsIotSqlVersion": "2016-03-23",
        "actions": [republish(f"{dst}/${{topic(2)}}")],
    })
    dev = clients(unique("dev"))
    dev.connect(c.ports["mqtt"])
    # The rule reaches node C through the change feed; its output crosses to node B.
    until_output(dev, sub, f"{src}/x", json.dumps({"n": -1}))
    while True:
        try:
            sub.get(timeout=0.3)
        except queue.Empty:
            break
    for i in range(20):
        dev.publish(f"{src}/x", json.dumps({"n": i}))
    got = [json.loads(m.payload)["n"] for m in received(sub, 20)]
    assert got == list(range(20)), "each message through the rule once, in order"
    sub.expect_none(0.5)
    aws_client(b).delete_topic_rule(ruleName=rule)


def test_a_job_created_through_one_node_reaches_a_device_on_another(a, b, clients):
    thing = unique("pump")
    iot_b = aws_client(b)
    arn = iot_b.create_thing(thingName=thing)["thingArn"]
    dev = clients(thing)
    dev.connect(a.ports["mqtt"])
    dev.subscribe(f"$aws/things/{thing}/jobs/notify-next")
    job = unique("upgrade")
    iot_b.create_job(jobId=job, targets=[arn], document=json.dumps({"v": 2}))
    note = json.loads(dev.get().payload)
    assert note["execution"]["jobId"] == job
    assert note["execution"]["jobDocument"] == {"v": 2}
    # The device answers on node A; node B's API sees the outcome.
    dev.subscribe(f"$aws/things/{thing}/jobs/{job}/update/accepted")
    dev.publish(f"$aws/things/{thing}/jobs/{job}/update", json.dumps({"status": "SUCCEEDED"}))
    accepted = f"$aws/things/{thing}/jobs/{job}/update/accepted"
    while dev.get().topic != accepted:  # notify-next may tell the queue is empty first
        pass
    desc = iot_b.describe_job_execution(jobId=job, thingName=thing)["execution"]
    assert desc["status"] == "SUCCEEDED"
