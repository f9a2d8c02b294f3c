"""Bulk thing registration through boto3 `iot`: StartThingRegistrationTask on a JSON-lines file
written into a bucket directory (`{data_dir}/s3/{bucket}`, as the rules engine's `s3` action
writes them), DescribeThingRegistrationTask polled until the task ends, the things it made,
its counts, the ERRORS and RESULTS reports (`s3://{bucket}/{key}` links into the same bucket
directory), ListThingRegistrationTasks with a status filter, StopThingRegistrationTask, a task a
restart interrupted (resumed from its recorded progress), and a task whose input and reports
are in S3 at `[targets.s3] forward_endpoint` (moto)."""

import json
import pathlib
import signal
import time
import urllib.request

import pytest

from conftest import (ACCOUNT_ID, REGION, WAIT, aws_client, moto_client, start_api_server,
                      stop_api_server)

ROLE = f"arn:aws:iam::{ACCOUNT_ID}:role/bulk"
BUCKET = "bulk-input"
TEMPLATE = json.dumps({
    "Parameters": {"ThingName": {"Type": "String"}, "Serial": {"Type": "String"}},
    "Resources": {"thing": {"Type": "AWS::IoT::Thing", "Properties": {
        "ThingName": {"Ref": "ThingName"},
        "AttributePayload": {"serial": {"Ref": "Serial"}}}}},
})


def put_input(server, key, lines):
    path = pathlib.Path(server.dir) / "s3" / BUCKET / key
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(line + "\n" for line in lines))


def start(iot, key):
    return iot.start_thing_registration_task(
        templateBody=TEMPLATE, inputFileBucket=BUCKET, inputFileKey=key, roleArn=ROLE)["taskId"]


def wait_for(iot, task_id, statuses=("Completed", "Failed", "Cancelled")):
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        d = iot.describe_thing_registration_task(taskId=task_id)
        if d["status"] in statuses:
            return d
        time.sleep(0.05)
    raise AssertionError(f"task {task_id} did not reach {statuses}: {d}")


def report(server, iot, task_id, report_type):
    out = iot.list_thing_registration_task_reports(taskId=task_id, reportType=report_type)
    assert out["reportType"] == report_type
    lines = []
    for link in out["resourceLinks"]:
        assert link.startswith(f"s3://{BUCKET}/")
        path = pathlib.Path(server.dir) / "s3" / BUCKET / link[len(f"s3://{BUCKET}/"):]
        lines += [json.loads(line) for line in path.read_text().splitlines()]
    return lines


def test_a_task_registers_every_line_and_reports_the_bad_ones(iot, api_server):
    put_input(api_server, "devices/batch-1.jsonl", [
        json.dumps({"ThingName": "bulk-a", "Serial": "1"}),
        json.dumps({"ThingName": "bulk-b", "Serial": "2"}),
        "this is not json",
        json.dumps({"ThingName": "bulk-c", "Serial": "3"}),
    ])
    task_id = start(iot, "devices/batch-1.jsonl")
    d = wait_for(iot, task_id)
    assert d["status"] == "Completed", d
    assert (d["successCount"], d["failureCount"], d["percentageProgress"]) == (3, 1, 100)
    assert d["inputFileBucket"] == BUCKET and d["inputFileKey"] == "devices/batch-1.jsonl"
    assert d["templateBody"] == TEMPLATE and d["roleArn"] == ROLE
    assert d["creationDate"] <= d["lastModifiedDate"]
    for name, serial in [("bulk-a", "1"), ("bulk-b", "2"), ("bulk-c", "3")]:
        assert iot.describe_thing(thingName=name)["attributes"] == {"serial": serial}
    errors = report(api_server, iot, task_id, "ERRORS")
    assert [e["lineNumber"] for e in errors] == [3]
    assert errors[0]["errorCode"] == "InvalidRequestException"
    results = report(api_server, iot, task_id, "RESULTS")
    assert [r["lineNumber"] for r in results] == [1, 2, 4]
    assert results[0]["response"]["resourceArns"]["thing"].endswith(":thing/bulk-a")

    assert task_id in iot.list_thing_registration_tasks()["taskIds"]
    assert task_id in iot.list_thing_registration_tasks(status="Completed")["taskIds"]
    assert task_id not in iot.list_thing_registration_tasks(status="Failed")["taskIds"]


def test_a_missing_file_fails_and_unknown_tasks_are_not_found(iot):
    task_id = start(iot, "nowhere.jsonl")
    d = wait_for(iot, task_id)
    assert d["status"] == "Failed" and "nowhere.jsonl" in d["message"]
    assert task_id in iot.list_thing_registration_tasks(status="Failed")["taskIds"]
    with pytest.raises(iot.exceptions.ResourceNotFoundException):
        iot.describe_thing_registration_task(taskId="no-such-task")
    with pytest.raises(iot.exceptions.InvalidRequestException):
        iot.start_thing_registration_task(templateBody="{not json", inputFileBucket=BUCKET,
                                          inputFileKey="k", roleArn=ROLE)


def test_stop_cancels_a_running_task(iot, api_server):
    put_input(api_server, "many.jsonl",
              [json.dumps({"ThingName": f"many-{i}", "Serial": str(i)}) for i in range(1000)])
    task_id = start(iot, "many.jsonl")
    iot.stop_thing_registration_task(taskId=task_id)
    d = wait_for(iot, task_id)
    assert d["status"] == "Cancelled", d
    assert d["successCount"] < 1000
    with pytest.raises(iot.exceptions.InvalidRequestException):
        iot.stop_thing_registration_task(taskId=task_id)


def test_a_restart_resumes_the_task_it_interrupted():
    server = start_api_server("embedded")
    try:
        iot = aws_client(server)
        lines = [json.dumps({"ThingName": f"big-{i}", "Serial": str(i)}) for i in range(3000)]
        lines[1000] = "not json"
        put_input(server, "big.jsonl", lines)
        task_id = start(iot, "big.jsonl")
        wait_for_progress = time.monotonic() + WAIT
        while iot.describe_thing_registration_task(taskId=task_id)["successCount"] == 0:
            assert time.monotonic() < wait_for_progress
            time.sleep(0.01)
        server.restart(signal.SIGKILL)
        server.endpoint = f"http://127.0.0.1:{server.ports['api']}"
        iot = aws_client(server)
        d = wait_for(iot, task_id)
        assert d["status"] == "Completed", d
        assert (d["successCount"], d["failureCount"]) == (2999, 1)
        results = report(server, iot, task_id, "RESULTS")
        assert sorted(r["lineNumber"] for r in results) == [n for n in range(1, 3001) if n != 1001]
        assert [e["lineNumber"] for e in report(server, iot, task_id, "ERRORS")] == [1001]
    finally:
        stop_api_server(server)


def test_input_and_reports_at_a_forwarded_s3_endpoint(tmp_path, moto):
    s3 = moto_client(moto, "s3")
    s3.create_bucket(Bucket="bulk-fwd", CreateBucketConfiguration={"LocationConstraint": REGION})
    s3.put_object(Bucket="bulk-fwd", Key="in/batch_1.jsonl", Body="".join(
        line + "\n" for line in [json.dumps({"ThingName": "fwd-a", "Serial": "1"}), "[]",
                                  json.dumps({"ThingName": "fwd-b", "Serial": "2"})]).encode())
    config = tmp_path / "ferrite.toml"
    config.write_text(f"""
[targets.s3]
forward_endpoint = "{moto}"
[targets.forward]
region = "{REGION}"
access_key_id = "AKIDMOTO"
secret_access_key = "moto-secret"
""")
    server = start_api_server("embedded", {"FERRITE_CONFIG": str(config)})
    try:
        iot = aws_client(server)
        task_id = iot.start_thing_registration_task(
            templateBody=TEMPLATE, inputFileBucket="bulk-fwd", inputFileKey="in/batch_1.jsonl",
            roleArn=ROLE)["taskId"]
        d = wait_for(iot, task_id)
        assert d["status"] == "Completed", d
        assert (d["successCount"], d["failureCount"]) == (2, 1)
        assert iot.describe_thing(thingName="fwd-b")["attributes"] == {"serial": "2"}
        reports = {}
        for report_type in ("RESULTS", "ERRORS"):
            links = iot.list_thing_registration_task_reports(
                taskId=task_id, reportType=report_type)["resourceLinks"]
            assert len(links) == 1 and links[0].startswith(f"{moto}/bulk-fwd/"), links
            assert "X-Amz-Signature=" in links[0]
            with urllib.request.urlopen(links[0], timeout=WAIT) as r:
                reports[report_type] = [json.loads(line) for line in r.read().splitlines()]
        assert [r["lineNumber"] for r in reports["RESULTS"]] == [1, 3]
        assert [e["lineNumber"] for e in reports["ERRORS"]] == [2]
        keys = [o["Key"] for o in s3.list_objects_v2(Bucket="bulk-fwd")["Contents"]]
        assert f"thing-registration-tasks/{task_id}/results.jsonl" in keys

        missing = iot.start_thing_registration_task(
            templateBody=TEMPLATE, inputFileBucket="bulk-fwd", inputFileKey="absent.jsonl",
            roleArn=ROLE)["taskId"]
        d = wait_for(iot, missing)
        assert d["status"] == "Failed" and "NoSuchKey" in d["message"], d
    finally:
        stop_api_server(server)
