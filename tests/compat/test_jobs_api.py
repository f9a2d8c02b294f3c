"""The jobs control plane through boto3 against a live `ferrite serve`, on the embedded store
and (when FERRITE_TEST_POSTGRES_URL is set) on PostgreSQL: a job targeting a thing and a thing
group, its executions, cancellation and deletion, job templates and tags."""

import json

import pytest
from botocore.exceptions import ClientError

from conftest import ACCOUNT_ID, REGION, Client, aws_client


def arn(resource):
    return f"arn:aws:iot:{REGION}:{ACCOUNT_ID}:{resource}"


def fails(expected, call, **kwargs):
    """Calls `call` expecting the AWS error `expected` (code, HTTP status)."""
    with pytest.raises(ClientError) as e:
        call(**kwargs)
    got = (e.value.response["Error"]["Code"], e.value.response["ResponseMetadata"]["HTTPStatusCode"])
    assert got == expected, kwargs
    return e.value.response


NOT_FOUND = ("ResourceNotFoundException", 404)
INVALID = ("InvalidRequestException", 400)


@pytest.fixture
def fleet(iot):
    """Things `lamp`, `fan` and `pump`; `fan` in group `fleet`, `pump` in its child `east`."""
    for t in ("lamp", "fan", "pump"):
        iot.create_thing(thingName=t)
    iot.create_thing_group(thingGroupName="fleet")
    iot.create_thing_group(thingGroupName="east", parentGroupName="fleet")
    iot.add_thing_to_thing_group(thingGroupName="fleet", thingName="fan")
    iot.add_thing_to_thing_group(thingGroupName="east", thingName="pump")
    return iot


def test_a_job_on_a_thing_and_a_group(fleet):
    iot = fleet
    document = json.dumps({"operation": "install", "url": "https://example.com/fw.bin"})
    created = iot.create_job(
        jobId="fw-42",
        targets=[arn("thing/lamp"), arn("thinggroup/fleet")],
        document=document,
        description="firmware 42",
        jobExecutionsRolloutConfig={"maximumPerMinute": 100},
        timeoutConfig={"inProgressTimeoutInMinutes": 60},
        tags=[{"Key": "release", "Value": "42"}],
    )
    assert created["jobArn"] == arn("job/fw-42")
    assert created["jobId"] == "fw-42"
    fails(
        ("ResourceAlreadyExistsException", 409),
        iot.create_job,
        jobId="fw-42",
        targets=[arn("thing/lamp")],
        document="{}",
    )

    job = iot.describe_job(jobId="fw-42")["job"]
    assert job["status"] == "IN_PROGRESS"
    assert job["targetSelection"] == "SNAPSHOT"
    assert job["targets"] == [arn("thing/lamp"), arn("thinggroup/fleet")]
    assert job["jobProcessDetails"]["numberOfQueuedThings"] == 3
    assert job["jobExecutionsRolloutConfig"] == {"maximumPerMinute": 100}
    assert job["timeoutConfig"] == {"inProgressTimeoutInMinutes": 60}
    assert job["createdAt"].year >= 2024
    assert iot.get_job_document(jobId="fw-42")["document"] == document

    summaries = iot.list_jobs()["jobs"]
    assert [j["jobId"] for j in summaries] == ["fw-42"]
    assert summaries[0]["status"] == "IN_PROGRESS"
    assert [j["jobId"] for j in iot.list_jobs(thingGroupName="fleet")["jobs"]] == ["fw-42"]
    assert iot.list_jobs(status="COMPLETED")["jobs"] == []

    executions = iot.list_job_executions_for_job(jobId="fw-42")["executionSummaries"]
    assert sorted(e["thingArn"] for e in executions) == [arn("thing/fan"), arn("thing/lamp"), arn("thing/pump")]
    assert {e["jobExecutionSummary"]["status"] for e in executions} == {"QUEUED"}
    for_thing = iot.list_job_executions_for_thing(thingName="pump")["executionSummaries"]
    assert [e["jobId"] for e in for_thing] == ["fw-42"]
    execution = iot.describe_job_execution(jobId="fw-42", thingName="fan")["execution"]
    assert execution["status"] == "QUEUED"
    assert execution["executionNumber"] == 1
    assert execution["versionNumber"] == 1
    assert execution["thingArn"] == arn("thing/fan")

    tags = iot.list_tags_for_resource(resourceArn=arn("job/fw-42"))["tags"]
    assert tags == [{"Key": "release", "Value": "42"}]

    # One execution canceled alone, with its expected version.
    fails(("VersionConflictException", 409), iot.cancel_job_execution, jobId="fw-42", thingName="lamp", expectedVersion=5)
    iot.cancel_job_execution(jobId="fw-42", thingName="lamp", expectedVersion=1, statusDetails={"why": "offline"})
    lamp = iot.describe_job_execution(jobId="fw-42", thingName="lamp")["execution"]
    assert lamp["status"] == "CANCELED"
    assert lamp["statusDetails"] == {"detailsMap": {"why": "offline"}}
    fails(("InvalidStateTransitionException", 409), iot.cancel_job_execution, jobId="fw-42", thingName="lamp")

    # The job: still in progress, so deleting it needs force; cancel it instead.
    fails(("InvalidStateTransitionException", 409), iot.delete_job, jobId="fw-42")
    canceled = iot.cancel_job(jobId="fw-42", reasonCode="SUPERSEDED", comment="fw 43 is out")
    assert canceled["jobId"] == "fw-42"
    job = iot.describe_job(jobId="fw-42")["job"]
    assert job["status"] == "CANCELED"
    assert job["reasonCode"] == "SUPERSEDED"
    assert job["comment"] == "fw 43 is out"
    assert job["jobProcessDetails"]["numberOfCanceledThings"] == 3
    assert [j["jobId"] for j in iot.list_jobs(status="CANCELED")["jobs"]] == ["fw-42"]

    iot.delete_job_execution(jobId="fw-42", thingName="lamp", executionNumber=1)
    fails(NOT_FOUND, iot.describe_job_execution, jobId="fw-42", thingName="lamp")
    iot.delete_job(jobId="fw-42")
    fails(NOT_FOUND, iot.describe_job, jobId="fw-42")
    fails(NOT_FOUND, iot.delete_job, jobId="fw-42")
    assert iot.list_job_executions_for_thing(thingName="fan")["executionSummaries"] == []


def test_force_cancel_and_force_delete(fleet):
    iot = fleet
    iot.create_job(jobId="cont", targets=[arn("thing/lamp")], document="{}", targetSelection="CONTINUOUS")
    iot.associate_targets_with_job(jobId="cont", targets=[arn("thinggroup/fleet")], comment="more")
    job = iot.describe_job(jobId="cont")["job"]
    assert job["targetSelection"] == "CONTINUOUS"
    assert job["jobProcessDetails"]["numberOfQueuedThings"] == 3
    iot.cancel_job(jobId="cont", force=True)
    job = iot.describe_job(jobId="cont")["job"]
    assert job["status"] == "CANCELED"
    assert job["forceCanceled"] is True
    fails(INVALID, iot.associate_targets_with_job, jobId="cont", targets=[arn("thing/lamp")])

    iot.create_job(jobId="snap", targets=[arn("thing/lamp")], document="{}")
    fails(INVALID, iot.associate_targets_with_job, jobId="snap", targets=[arn("thing/fan")])
    iot.delete_job(jobId="snap", force=True)
    fails(NOT_FOUND, iot.get_job_document, jobId="snap")


def test_refusals(fleet):
    iot = fleet
    fails(NOT_FOUND, iot.create_job, jobId="j", targets=[arn("thing/ghost")], document="{}")
    fails(NOT_FOUND, iot.create_job, jobId="j", targets=[arn("thinggroup/ghost")], document="{}")
    fails(INVALID, iot.create_job, jobId="j", targets=[arn("thing/lamp")])
    fails(INVALID, iot.create_job, jobId="j", targets=[arn("thing/lamp")], document="not json")
    fails(
        INVALID,
        iot.create_job,
        jobId="j",
        targets=[arn("thing/lamp")],
        document="{}",
        jobExecutionsRetryConfig={"criteriaList": [{"failureType": "FAILED", "numberOfRetries": 10},
                                                   {"failureType": "TIMED_OUT", "numberOfRetries": 1}]},
    )
    fails(
        INVALID,
        iot.create_job,
        jobId="j",
        targets=[arn("thing/lamp")],
        document="{}",
        jobExecutionsRolloutConfig={"exponentialRate": {"baseRatePerMinute": 10, "incrementFactor": 2.0,
                                                        "rateIncreaseCriteria": {}}},
    )
    fails(NOT_FOUND, iot.describe_job, jobId="ghost")
    fails(NOT_FOUND, iot.list_job_executions_for_job, jobId="ghost")
    assert iot.list_jobs()["jobs"] == []


def test_job_templates(fleet):
    iot = fleet
    template = iot.create_job_template(
        jobTemplateId="reboot",
        description="reboot a device",
        document=json.dumps({"operation": "reboot"}),
        timeoutConfig={"inProgressTimeoutInMinutes": 10},
        tags=[{"Key": "kind", "Value": "ops"}],
    )
    assert template["jobTemplateArn"] == arn("jobtemplate/reboot")
    fails(("ConflictException", 409), iot.create_job_template, jobTemplateId="reboot", description="d", document="{}")
    described = iot.describe_job_template(jobTemplateId="reboot")
    assert described["description"] == "reboot a device"
    assert described["timeoutConfig"] == {"inProgressTimeoutInMinutes": 10}
    assert [t["jobTemplateId"] for t in iot.list_job_templates()["jobTemplates"]] == ["reboot"]
    assert iot.list_tags_for_resource(resourceArn=arn("jobtemplate/reboot"))["tags"] == [{"Key": "kind", "Value": "ops"}]

    iot.create_job(jobId="from-template", targets=[arn("thinggroup/fleet")], jobTemplateArn=arn("jobtemplate/reboot"))
    job = iot.describe_job(jobId="from-template")["job"]
    assert job["jobTemplateArn"] == arn("jobtemplate/reboot")
    assert job["timeoutConfig"] == {"inProgressTimeoutInMinutes": 10}
    assert json.loads(iot.get_job_document(jobId="from-template")["document"]) == {"operation": "reboot"}

    iot.delete_job_template(jobTemplateId="reboot")
    fails(NOT_FOUND, iot.describe_job_template, jobTemplateId="reboot")


def wait_on(client, topic):
    """The next message on `topic`, as parsed JSON (messages on other topics are skipped)."""
    while True:
        m = client.get()
        if m.topic == topic:
            return json.loads(m.payload)


def test_a_device_takes_a_job_over_mqtt(fleet, api_server):
    iot = fleet
    dev = Client("fan")
    dev.connect(api_server.ports["mqtt"])
    try:
        dev.subscribe("$aws/things/fan/jobs/#")
        base = "$aws/things/fan/jobs"
        iot.create_job(jobId="cfg-1", targets=[arn("thinggroup/fleet")], document=json.dumps({"set": {"mode": "eco"}}))
        notified = wait_on(dev, f"{base}/notify-next")
        assert notified["execution"]["jobId"] == "cfg-1"
        assert notified["execution"]["jobDocument"] == {"set": {"mode": "eco"}}

        dev.publish(f"{base}/start-next", json.dumps({"clientToken": "t1"}))
        started = wait_on(dev, f"{base}/start-next/accepted")
        assert started["clientToken"] == "t1"
        assert started["execution"]["status"] == "IN_PROGRESS"
        assert isinstance(started["timestamp"], int)

        dev.publish(f"{base}/cfg-1/update", json.dumps({"status": "SUCCEEDED", "expectedVersion": 2,
                                                        "includeJobExecutionState": True}))
        updated = wait_on(dev, f"{base}/cfg-1/update/accepted")
        assert updated["executionState"]["status"] == "SUCCEEDED"
        execution = iot.describe_job_execution(jobId="cfg-1", thingName="fan")["execution"]
        assert execution["status"] == "SUCCEEDED"
        assert execution["versionNumber"] == 3

        dev.publish(f"{base}/cfg-1/update", json.dumps({"status": "IN_PROGRESS", "clientToken": "late"}))
        late = wait_on(dev, f"{base}/cfg-1/update/rejected")
        assert (late["code"], late["clientToken"]) == ("InvalidStateTransition", "late")
    finally:
        dev.close()


def test_the_jobs_data_plane_over_https(fleet, api_server):
    iot = fleet
    jobs = aws_client(api_server, service="iot-jobs-data")
    iot.create_job(jobId="https-1", targets=[arn("thing/lamp")], document=json.dumps({"op": "x"}))
    pending = jobs.get_pending_job_executions(thingName="lamp")
    assert [j["jobId"] for j in pending["queuedJobs"]] == ["https-1"]
    assert pending["inProgressJobs"] == []
    nxt = jobs.describe_job_execution(thingName="lamp", jobId="$next")["execution"]
    assert nxt["jobId"] == "https-1"
    assert json.loads(nxt["jobDocument"]) == {"op": "x"}
    started = jobs.start_next_pending_job_execution(thingName="lamp", statusDetails={"step": "1"})["execution"]
    assert started["status"] == "IN_PROGRESS"
    assert started["statusDetails"] == {"step": "1"}
    assert started["versionNumber"] == 2
    done = jobs.update_job_execution(thingName="lamp", jobId="https-1", status="SUCCEEDED", expectedVersion=2,
                                     includeJobExecutionState=True)
    assert done["executionState"]["status"] == "SUCCEEDED"
    assert iot.describe_job(jobId="https-1")["job"]["status"] == "COMPLETED"
    fails(("InvalidStateTransitionException", 409), jobs.update_job_execution,
          thingName="lamp", jobId="https-1", status="FAILED")
    fails(NOT_FOUND, jobs.update_job_execution, thingName="lamp", jobId="ghost", status="FAILED")


def test_a_continuous_job_reaches_a_thing_that_joins_later(fleet, api_server):
    iot = fleet
    iot.create_job(jobId="always", targets=[arn("thinggroup/fleet")], document="{}", targetSelection="CONTINUOUS")
    iot.create_thing(thingName="newbie")
    dev = Client("newbie")
    dev.connect(api_server.ports["mqtt"])
    try:
        dev.subscribe("$aws/things/newbie/jobs/notify-next")
        # Joining a child group of the targeted group reaches the job too.
        iot.add_thing_to_thing_group(thingGroupName="east", thingName="newbie")
        notified = wait_on(dev, "$aws/things/newbie/jobs/notify-next")
        assert notified["execution"]["jobId"] == "always"
        iot.remove_thing_from_thing_group(thingGroupName="east", thingName="newbie")
        emptied = wait_on(dev, "$aws/things/newbie/jobs/notify-next")
        assert "execution" not in emptied
        execution = iot.describe_job_execution(jobId="always", thingName="newbie")["execution"]
        assert execution["status"] == "REMOVED"
    finally:
        dev.close()
