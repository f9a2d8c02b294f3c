"""Jobs end to end with the AWS IoT Device SDK v2's request-response jobs client
(`awsiot.iotjobs.IotJobsClientV2` on MQTT 5, mutual TLS, a thing-scoped policy) and boto3 on
the control plane: a job on a thing group runs its course (notify-next, start-next, progress
with statusDetails, SUCCEEDED), a rollout rate is observable, a cancellation reaches the
device, an in-progress timeout ends an execution and its retry follows, a continuous job
reaches a thing added to its group afterwards, and a rollout goes on across a restart.

The jobs minute is shortened for these servers (`FERRITE_JOBS_TIMER_MINUTE_MS`, the config's
`jobs.timer_minute_ms`): a one-minute timeout or a rollout minute lasts `MINUTE` seconds here.
Everything else is AWS's semantics."""

import queue
import time

import pytest

from conftest import (ACCOUNT_ID, BACKENDS, REGION, WAIT, Client, aws_client, reset,
                      start_api_server, stop_api_server)
from test_device_auth import Device, sdk_client, sdk_stop

ARN = f"arn:aws:iot:{REGION}:{ACCOUNT_ID}"
MINUTE = 1.0  # seconds in a jobs minute on these servers


def eventually(read, expected, timeout=WAIT):
    """`read()` once it returns `expected`: a job completes just after the execution change
    that completes it is announced, as on AWS (eventually consistent)."""
    deadline = time.monotonic() + timeout
    while True:
        got = read()
        if got == expected or time.monotonic() > deadline:
            return got
        time.sleep(0.05)


def minute_env(seconds):
    return {"FERRITE_JOBS_TIMER_MINUTE_MS": str(int(seconds * 1000))}


@pytest.fixture(scope="module", params=BACKENDS)
def jobs_server(request):
    f = start_api_server(request.param, minute_env(MINUTE))
    yield f
    stop_api_server(f)


@pytest.fixture
def iot(jobs_server):
    reset(jobs_server)
    return aws_client(jobs_server)


def jobs_policy(thing):
    """AWS's jobs sample policy, scoped to the thing: connect as it, use its jobs topics."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "iot:Connect", "Resource": f"{ARN}:client/{thing}"},
            {"Effect": "Allow", "Action": ["iot:Publish", "iot:Receive"],
             "Resource": f"{ARN}:topic/$aws/things/{thing}/jobs/*"},
            {"Effect": "Allow", "Action": "iot:Subscribe",
             "Resource": f"{ARN}:topicfilter/$aws/things/{thing}/jobs/*"},
        ],
    }


class JobsDevice:
    """A registered thing running the SDK's V2 jobs client, with its notify-next and notify
    streams open (events land in queues; tests wait on them with timeouts)."""

    def __init__(self, iot, server, thing):
        import awsiot
        from awscrt import mqtt_request_response
        from awsiot import iotjobs, mqtt5_client_builder

        self.thing = thing
        dev = Device(iot, server, thing, policy=jobs_policy(thing))
        self.client, self.events = sdk_client(
            mqtt5_client_builder.mtls_from_path,
            endpoint="localhost", port=server.ports["mqtts"], cert_filepath=dev.cert_file,
            pri_key_filepath=dev.key_file, ca_filepath=server.ca_file, client_id=thing,
        )
        self.client.start()
        assert self.events["connected"].wait(WAIT), self.events["failed"].queue
        self.jobs = iotjobs.IotJobsClientV2(self.client, mqtt_request_response.ClientOptions(
            max_request_response_subscriptions=4, max_streaming_subscriptions=2,
            operation_timeout_in_seconds=int(WAIT)))
        self.next, self.changed = queue.Queue(), queue.Queue()
        self.streams = []
        for create, request, sink in [
            (self.jobs.create_next_job_execution_changed_stream,
             iotjobs.NextJobExecutionChangedSubscriptionRequest(thing_name=thing), self.next),
            (self.jobs.create_job_executions_changed_stream,
             iotjobs.JobExecutionsChangedSubscriptionRequest(thing_name=thing), self.changed),
        ]:
            status = queue.Queue()
            stream = create(request, awsiot.ServiceStreamOptions(
                incoming_event_listener=sink.put, subscription_status_listener=status.put))
            stream.open()
            established = status.get(timeout=WAIT)
            assert established.type == \
                mqtt_request_response.SubscriptionStatusEventType.SUBSCRIPTION_ESTABLISHED, established
            self.streams.append(stream)

    def next_execution(self, timeout=WAIT):
        """The execution of the next notify-next event (None when the queue became empty)."""
        return self.next.get(timeout=timeout).execution

    def start_next(self, **kw):
        from awsiot import iotjobs
        return self.jobs.start_next_pending_job_execution(
            iotjobs.StartNextPendingJobExecutionRequest(thing_name=self.thing, **kw)).result(WAIT)

    def update(self, job_id, status, **kw):
        from awsiot import iotjobs
        return self.jobs.update_job_execution(iotjobs.UpdateJobExecutionRequest(
            thing_name=self.thing, job_id=job_id, status=status, **kw)).result(WAIT)

    def close(self):
        self.streams.clear()
        self.jobs = None
        sdk_stop(self.client, self.events)


@pytest.fixture
def devices(iot, jobs_server):
    made = []

    def make(thing):
        d = JobsDevice(iot, jobs_server, thing)
        made.append(d)
        return d

    yield make
    for d in made:
        d.close()


def group_with(iot, group, things):
    iot.create_thing_group(thingGroupName=group)
    for t in things:
        iot.add_thing_to_thing_group(thingGroupName=group, thingName=t)
    return f"{ARN}:thinggroup/{group}"


def test_a_job_on_a_thing_group_runs_its_course(iot, devices):
    lamp = devices("sdk-jobs-lamp")
    target = group_with(iot, "lamps", [lamp.thing])
    iot.create_job(jobId="fw-1", targets=[target], document='{"url": "https://example.com/fw"}',
                   description="firmware 1")

    told = lamp.next_execution()
    assert (told.job_id, told.status, told.execution_number) == ("fw-1", "QUEUED", 1)
    assert told.job_document == {"url": "https://example.com/fw"}
    changed = lamp.changed.get(timeout=WAIT)
    assert [s.job_id for s in changed.jobs["QUEUED"]] == ["fw-1"]

    started = lamp.start_next(status_details={"step": "download"}).execution
    assert (started.job_id, started.status) == ("fw-1", "IN_PROGRESS")
    assert started.status_details == {"step": "download"}
    assert started.job_document == {"url": "https://example.com/fw"}

    progressed = lamp.update("fw-1", "IN_PROGRESS", status_details={"progress": "50"},
                             expected_version=started.version_number,
                             include_job_execution_state=True)
    assert progressed.execution_state.status == "IN_PROGRESS"
    assert progressed.execution_state.status_details == {"progress": "50"}

    lamp.update("fw-1", "SUCCEEDED", status_details={"progress": "100"})
    assert lamp.next_execution() is None  # nothing pending any more
    described = iot.describe_job_execution(jobId="fw-1", thingName=lamp.thing)["execution"]
    assert described["status"] == "SUCCEEDED"
    assert described["statusDetails"]["detailsMap"] == {"progress": "100"}
    job = iot.describe_job(jobId="fw-1")["job"]
    assert job["status"] == "COMPLETED"
    assert job["jobProcessDetails"]["numberOfSucceededThings"] == 1


def test_a_rollout_notifies_things_at_its_rate(iot, devices):
    fleet = [devices(f"sdk-roll-{i}") for i in range(3)]
    target = group_with(iot, "rollout", [d.thing for d in fleet])
    iot.create_job(jobId="roll", targets=[target], document="{}",
                   jobExecutionsRolloutConfig={"maximumPerMinute": 1})
    told_at = {}
    pending = list(fleet)
    deadline = time.monotonic() + 3 * MINUTE + WAIT
    while pending and time.monotonic() < deadline:
        for d in list(pending):
            try:
                execution = d.next.get(timeout=0.05).execution
            except queue.Empty:
                continue
            assert execution.job_id == "roll"
            told_at[d.thing] = time.monotonic()
            pending.remove(d)
            if len(told_at) == 1:
                # One thing per minute: the first is told, the others have no execution yet.
                listed = iot.list_job_executions_for_job(jobId="roll")["executionSummaries"]
                assert len(listed) == 1, listed
    assert not pending, "every thing is reached"
    times = sorted(told_at.values())
    gaps = [b - a for a, b in zip(times, times[1:])]
    assert all(g > 0.7 * MINUTE for g in gaps), gaps


def test_a_canceled_job_leaves_the_device(iot, devices):
    fan = devices("sdk-jobs-fan")
    iot.create_job(jobId="cancel-me", targets=[f"{ARN}:thing/{fan.thing}"], document="{}")
    assert fan.next_execution().job_id == "cancel-me"
    iot.cancel_job(jobId="cancel-me", reasonCode="OBSOLETE", comment="superseded")
    assert fan.next_execution() is None
    assert iot.describe_job_execution(jobId="cancel-me", thingName=fan.thing)["execution"][
        "status"] == "CANCELED"
    import awsiot
    with pytest.raises(awsiot.V2ServiceException) as refused:
        fan.update("cancel-me", "IN_PROGRESS")
    assert refused.value.modeled_error.code == "InvalidStateTransition"
    job = iot.describe_job(jobId="cancel-me")["job"]
    assert (job["status"], job["reasonCode"], job["comment"]) == ("CANCELED", "OBSOLETE", "superseded")


def test_an_in_progress_timeout_ends_the_execution_and_the_retry_follows(iot, devices):
    pump = devices("sdk-jobs-pump")
    iot.create_job(jobId="slow", targets=[f"{ARN}:thing/{pump.thing}"], document="{}",
                   timeoutConfig={"inProgressTimeoutInMinutes": 1},
                   jobExecutionsRetryConfig={"criteriaList": [
                       {"failureType": "TIMED_OUT", "numberOfRetries": 1}]})
    assert pump.next_execution().execution_number == 1
    started = pump.start_next().execution
    assert started.status == "IN_PROGRESS"
    # A minute later the execution times out and its retry is the next one.
    retry = pump.next_execution(timeout=WAIT + 2 * MINUTE)
    assert (retry.job_id, retry.execution_number, retry.status) == ("slow", 2, "QUEUED")
    runs = iot.list_job_executions_for_thing(thingName=pump.thing)["executionSummaries"]
    by_number = {r["jobExecutionSummary"]["executionNumber"]: r["jobExecutionSummary"] for r in runs}
    assert by_number[1]["status"] == "TIMED_OUT"
    assert by_number[2]["status"] == "QUEUED"
    assert by_number[2]["retryAttempt"] == 1
    # The retry runs out too: no retry is left.
    pump.start_next()
    assert pump.next_execution(timeout=WAIT + 2 * MINUTE) is None
    assert eventually(lambda: iot.describe_job(jobId="slow")["job"]["status"], "COMPLETED") \
        == "COMPLETED"


def test_a_continuous_job_reaches_a_thing_added_afterwards(iot, devices):
    first = devices("sdk-cont-1")
    target = group_with(iot, "continuous", [first.thing])
    iot.create_job(jobId="cont", targets=[target], document="{}", targetSelection="CONTINUOUS")
    assert first.next_execution().job_id == "cont"
    later = devices("sdk-cont-2")
    later.next.empty() or pytest.fail("told before it joined")
    iot.add_thing_to_thing_group(thingGroupName="continuous", thingName=later.thing)
    told = later.next_execution()
    assert (told.job_id, told.status) == ("cont", "QUEUED")
    later.start_next()
    later.update("cont", "SUCCEEDED")
    assert iot.describe_job(jobId="cont")["job"]["status"] == "IN_PROGRESS"


def test_a_rollout_goes_on_across_a_restart():
    server = start_api_server("embedded", minute_env(1.5))
    watcher = None
    try:
        iot = aws_client(server)
        things = [f"restart-{i}" for i in range(6)]
        for t in things:
            iot.create_thing(thingName=t)
        target = group_with(iot, "restart", things)
        watcher = Client("watcher")
        watcher.connect(server.ports["mqtt"])
        watcher.subscribe("$aws/things/+/jobs/notify-next")
        iot.create_job(jobId="survive", targets=[target], document="{}",
                       jobExecutionsRolloutConfig={"maximumPerMinute": 2})
        for _ in range(2):
            watcher.get()
        assert len(iot.list_job_executions_for_job(jobId="survive")["executionSummaries"]) < 6
        watcher.close()

        server.restart()
        server.endpoint = f"http://127.0.0.1:{server.ports['api']}"
        iot = aws_client(server)
        watcher = Client("watcher")
        watcher.connect(server.ports["mqtt"])
        watcher.subscribe("$aws/things/+/jobs/notify-next")
        deadline = time.monotonic() + WAIT + 6 * 1.5
        while True:
            listed = iot.list_job_executions_for_job(jobId="survive")["executionSummaries"]
            if len(listed) == 6 or time.monotonic() > deadline:
                break
            try:
                watcher.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                pass
        reached = sorted((r["thingArn"].rsplit("/", 1)[1], r["jobExecutionSummary"]["executionNumber"])
                         for r in listed)
        assert reached == [(t, 1) for t in sorted(things)]
    finally:
        if watcher:
            watcher.close()
        stop_api_server(server)
