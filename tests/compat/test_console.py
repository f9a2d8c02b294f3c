"""The web console (`/console`, crates/console) in headless Chromium against a real
`ferrite serve`: sign in with the account's keys, manage things through the SigV4-signed API,
and watch a message published by paho arrive in the MQTT test client over a presigned
WebSocket. Screenshots of each page land in target/console-screenshots/.

Uses Debian's chromium (`apt-get install chromium`) through Playwright; never downloads a
browser. Skips loudly when either is missing."""

import json
import os
import pathlib
import re
import shutil

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
import pytest

from conftest import (ACCESS_KEY_ID, REGION, ROOT, SECRET_ACCESS_KEY, WAIT, Client, aws_client,
                      reset, start_api_server, stop_api_server)

CHROMIUM = os.environ.get("FERRITE_CHROMIUM", "/usr/bin/chromium")
SHOTS = ROOT / "target" / "console-screenshots"
TIMEOUT_MS = int(WAIT * 1000)

try:
    from playwright.sync_api import expect, sync_playwright
except ImportError:  # pragma: no cover - depends on the environment
    sync_playwright = None

if sync_playwright is None:
    print("!! playwright is not installed (tests/compat/requirements.txt): the console tests are SKIPPED")
elif not shutil.which(CHROMIUM):
    print(f"!! {CHROMIUM} not found (Debian: apt-get install chromium): the console tests are SKIPPED")

pytestmark = pytest.mark.skipif(
    sync_playwright is None or not shutil.which(CHROMIUM),
    reason="console tests need playwright and Debian's chromium",
)


@pytest.fixture(scope="module")
def server():
    f = start_api_server("embedded")
    yield f
    stop_api_server(f)


@pytest.fixture(scope="module")
def browser():
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        # --no-sandbox: CI runs as root, where Chromium's sandbox refuses to start.
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        yield b
        b.close()


@pytest.fixture
def page(browser, server):
    reset(server)
    context = browser.new_context(viewport={"width": 1366, "height": 768})
    context.set_default_timeout(TIMEOUT_MS)
    pg = context.new_page()
    errors = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    yield pg
    context.close()
    assert not errors, f"uncaught errors in the page: {errors}"


def shot(page, name):
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def sign_in(page, server, secret=SECRET_ACCESS_KEY):
    """Signs in; with the right secret, returns once the console holds the keys (a test that
    navigates at once would otherwise leave before sign-in finished, and land on sign-in)."""
    page.goto(f"{server.endpoint}/console/")
    page.get_by_label("Access key ID").fill(ACCESS_KEY_ID)
    page.get_by_label("Secret access key").fill(secret)
    expect(page.get_by_label("Region")).to_have_value(REGION)
    page.get_by_role("button", name="Sign in").click()
    if secret == SECRET_ACCESS_KEY:
        expect(page.get_by_role("button", name="Sign out")).to_be_visible()


def thing_row(page, name):
    return page.locator(f'tr[data-thing="{name}"]')


def test_sign_in_refuses_a_wrong_secret_with_the_api_message_then_signs_in(page, server):
    sign_in(page, server, secret="not-the-secret")
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("signature")
    shot(page, "sign-in-error")
    page.get_by_label("Secret access key").fill(SECRET_ACCESS_KEY)
    page.get_by_role("button", name="Sign in").click()
    nav = page.get_by_role("navigation", name="Console pages")
    expect(nav.get_by_role("link", name="Things")).to_be_visible()
    # The keys live in the tab's session: a reload stays signed in, a new tab would not.
    page.reload()
    expect(nav.get_by_role("link", name="Things")).to_have_attribute("aria-current", "page")
    stored = json.loads(page.evaluate("sessionStorage.getItem('ferrite-console-credentials')"))
    assert stored["accessKeyId"] == ACCESS_KEY_ID and stored["region"] == REGION
    assert page.evaluate("localStorage.length") == 0


def test_things_create_edit_and_delete_through_the_api(page, server):
    iot = aws_client(server)
    sign_in(page, server)
    expect(page.get_by_role("heading", name="Things")).to_be_visible()

    page.get_by_role("button", name="Create thing").click()
    form = page.get_by_role("form", name="Create thing")
    form.get_by_label("Thing name").fill("console-lamp")
    form.get_by_role("button", name="Add attribute").click()
    form.get_by_label("Name", exact=True).fill("room")
    form.get_by_label("Value", exact=True).fill("hall")
    form.get_by_role("button", name="Create", exact=True).click()
    row = thing_row(page, "console-lamp")
    expect(row).to_contain_text("room=hall")
    assert iot.describe_thing(thingName="console-lamp")["attributes"] == {"room": "hall"}
    shot(page, "things")

    # Creating it again with other attributes is the API's conflict, shown as its message.
    page.get_by_role("button", name="Create thing").click()
    form.get_by_label("Thing name").fill("console-lamp")
    form.get_by_role("button", name="Add attribute").click()
    form.get_by_label("Name", exact=True).fill("room")
    form.get_by_label("Value", exact=True).fill("attic")
    form.get_by_role("button", name="Create", exact=True).click()
    expect(form.get_by_role("alert")).to_contain_text("ResourceAlreadyExistsException")
    form.get_by_role("button", name="Cancel").click()

    row.get_by_role("button", name="Edit console-lamp").click()
    edit = page.get_by_role("form", name="Edit console-lamp")
    edit.get_by_label("Value", exact=True).fill("kitchen")
    edit.get_by_role("button", name="Add attribute").click()
    edit.get_by_label("Name", exact=True).nth(1).fill("watts")
    edit.get_by_label("Value", exact=True).nth(1).fill("40")
    shot(page, "things-edit")
    edit.get_by_role("button", name="Save attributes").click()
    expect(row).to_contain_text("room=kitchen")
    expect(row).to_contain_text("watts=40")
    described = iot.describe_thing(thingName="console-lamp")
    assert described["attributes"] == {"room": "kitchen", "watts": "40"}
    assert described["version"] == 2

    # An edit made from a stale page fails on the version check instead of overwriting.
    iot.update_thing(thingName="console-lamp", attributePayload={"attributes": {"room": "porch"}, "merge": True})
    row.get_by_role("button", name="Edit console-lamp").click()
    edit.get_by_role("button", name="Save attributes").click()
    expect(page.get_by_role("alert")).to_contain_text("VersionConflictException")
    assert iot.describe_thing(thingName="console-lamp")["attributes"]["room"] == "porch"

    # Reload the list, then delete with the version now read.
    page.reload()
    row.get_by_role("button", name="Delete console-lamp").click()
    page.get_by_role("button", name="Confirm delete console-lamp").click()
    expect(row).to_have_count(0)
    assert iot.list_things()["things"] == []


def test_things_list_pages_and_searches(page, server):
    iot = aws_client(server)
    iot.create_thing_type(thingTypeName="lamp")
    for i in range(30):
        kw = {"thingTypeName": "lamp"} if i % 2 == 0 else {}
        iot.create_thing(thingName=f"t-{i:02d}", attributePayload={"attributes": {"floor": str(i % 3)}}, **kw)
    sign_in(page, server)
    rows = page.locator("tbody tr[data-thing]")
    expect(rows).to_have_count(25)
    page.get_by_role("button", name="Next page").click()
    expect(rows).to_have_count(5)
    expect(page.get_by_text("Page 2")).to_be_visible()
    expect(page.get_by_role("button", name="Next page")).to_be_disabled()
    page.get_by_role("button", name="Previous page").click()
    expect(rows).to_have_count(25)

    search = page.get_by_role("search")
    search.get_by_label("Thing type").fill("lamp")
    search.get_by_label("Attribute name").fill("floor")
    search.get_by_label("Attribute value").fill("0")
    search.get_by_role("button", name="Search").click()
    # Even numbers whose remainder by 3 is 0: 0, 6, 12, 18, 24.
    expect(rows).to_have_count(5)
    expect(thing_row(page, "t-06")).to_be_visible()
    search.get_by_label("Name starts with").fill("t-1")
    search.get_by_role("button", name="Search").click()
    expect(rows).to_have_count(2)  # t-12, t-18
    shot(page, "things-search")

    search.get_by_label("Thing type").fill("no-such-type")
    search.get_by_role("button", name="Search").click()
    expect(page.get_by_role("cell", name="No things on this page.")).to_be_visible()


def test_thing_details_show_groups_billing_group_and_certificates(page, server):
    iot = aws_client(server)
    iot.create_thing(thingName="console-meter")
    iot.create_thing_group(thingGroupName="basement")
    iot.add_thing_to_thing_group(thingGroupName="basement", thingName="console-meter")
    iot.create_billing_group(billingGroupName="utilities")
    iot.add_thing_to_billing_group(billingGroupName="utilities", thingName="console-meter")
    cert = iot.create_keys_and_certificate(setAsActive=True)
    iot.attach_thing_principal(thingName="console-meter", principal=cert["certificateArn"])
    sign_in(page, server)
    thing_row(page, "console-meter").get_by_role("button", name="Details console-meter").click()
    details = page.get_by_label("Details of console-meter")
    expect(details).to_contain_text("basement")
    expect(details).to_contain_text("utilities")
    expect(details).to_contain_text(cert["certificateArn"])
    shot(page, "things-details")


def test_thing_details_change_groups_billing_group_and_principals(page, server):
    iot = aws_client(server)
    iot.create_thing(thingName="console-pump")
    for g in ("basement", "garage"):
        iot.create_thing_group(thingGroupName=g)
    iot.add_thing_to_thing_group(thingGroupName="basement", thingName="console-pump")
    iot.create_billing_group(billingGroupName="utilities")
    cert = iot.create_keys_and_certificate(setAsActive=True)
    iot.attach_thing_principal(thingName="console-pump", principal=cert["certificateArn"])
    sign_in(page, server)
    thing_row(page, "console-pump").get_by_role("button", name="Details console-pump").click()
    details = page.get_by_role("region", name="Details of console-pump")
    groups = details.get_by_role("list", name="Thing groups of console-pump")
    expect(groups).to_contain_text("basement")

    details.get_by_label("Thing group name").fill("garage")
    details.get_by_role("button", name="Add to group").click()
    expect(groups).to_contain_text("garage")
    names = lambda: sorted(g["groupName"] for g in iot.list_thing_groups_for_thing(thingName="console-pump")["thingGroups"])
    assert names() == ["basement", "garage"]
    details.get_by_role("button", name="Remove from group basement").click()
    expect(groups.get_by_text("basement")).to_have_count(0)
    assert names() == ["garage"]
    # A group that does not exist: the API's message.
    details.get_by_label("Thing group name").fill("attic")
    details.get_by_role("button", name="Add to group").click()
    expect(details.get_by_role("alert")).to_contain_text("ResourceNotFoundException")

    details.get_by_label("Billing group name").fill("utilities")
    details.get_by_role("button", name="Set billing group").click()
    expect(details.get_by_role("button", name="Remove from billing group utilities")).to_be_visible()
    assert iot.describe_thing(thingName="console-pump")["billingGroupName"] == "utilities"
    shot(page, "things-details-edit")
    details.get_by_role("button", name="Remove from billing group utilities").click()
    expect(details.get_by_role("button", name="Remove from billing group utilities")).to_have_count(0)
    assert "billingGroupName" not in iot.describe_thing(thingName="console-pump")

    details.get_by_role("button", name=f"Detach principal {cert['certificateArn']}").click()
    expect(details.get_by_role("status")).to_contain_text(f"Detached {cert['certificateArn']}")
    expect(details.get_by_role("list", name="Principals of console-pump")).to_have_count(0)
    assert iot.list_thing_principals(thingName="console-pump")["principals"] == []

    # The thing's shadows are one link away.
    details.get_by_role("link", name="Shadows of console-pump").click()
    expect(page).to_have_url(f"{server.endpoint}/console/shadows/console-pump")
    expect(page.get_by_role("heading", name="Shadows of console-pump")).to_be_visible()


def test_mqtt_client_sees_paho_messages_and_publishes(page, server):
    sign_in(page, server)
    page.get_by_role("link", name="MQTT test client").click()
    expect(page).to_have_url(f"{server.endpoint}/console/mqtt")
    url = page.get_by_label("WebSocket URL")
    expect(url).to_have_value(f"ws://127.0.0.1:{server.ports['ws']}/mqtt")
    page.get_by_role("button", name="Connect").click()
    expect(page.get_by_role("status").filter(has_text="Connected as")).to_be_visible()

    sub = page.get_by_role("form", name="Subscribe")
    sub.get_by_label("Topic filter").fill("console/#")
    sub.get_by_label("QoS", exact=True).select_option("1")
    sub.get_by_role("button", name="Subscribe").click()
    expect(page.get_by_role("list", name="Subscriptions")).to_contain_text("console/#")

    device = Client("console-paho", protocol=mqtt.MQTTv5)
    device.connect(server.ports["mqtt"])
    try:
        device.subscribe("from-console/#")
        props = Properties(PacketTypes.PUBLISH)
        props.ContentType = "application/json"
        props.UserProperty = [("site", "lab")]
        device.publish("console/kitchen", json.dumps({"temp": 21.5, "unit": "C"}), qos=1,
                       properties=props)
        messages = page.get_by_role("list", name="Messages")
        first = messages.locator("li.message").first
        expect(first.locator(".topic")).to_have_text("console/kitchen")
        # Pretty-printed JSON, as the page shows it.
        expect(first.locator("pre.json")).to_have_text('{\n  "temp": 21.5,\n  "unit": "C"\n}')
        expect(first.get_by_role("list", name="Properties")).to_contain_text("content type: application/json")
        expect(first.get_by_role("list", name="Properties")).to_contain_text("site: lab")
        shot(page, "mqtt-client")

        # Paused: arrivals are held, not shown, until resumed.
        page.get_by_role("button", name="Pause").click()
        device.publish("console/hall", b"not json", qos=1)
        expect(page.get_by_role("button", name="Resume (1 held)")).to_be_visible()
        expect(messages.locator("li.message")).to_have_count(1)
        page.get_by_role("button", name="Resume (1 held)").click()
        expect(messages.locator("li.message")).to_have_count(2)
        expect(messages.locator("li.message").first.locator("pre")).to_have_text("not json")
        page.get_by_role("button", name="Clear").click()
        expect(messages.locator("li.message")).to_have_count(0)

        pub = page.get_by_role("form", name="Publish")
        pub.get_by_label("Topic", exact=True).fill("from-console/lamp")
        pub.get_by_label("QoS", exact=True).select_option("1")
        pub.get_by_label("Payload").fill('{"on": true}')
        pub.get_by_text("MQTT 5 properties").click()
        pub.get_by_label("Content type").fill("application/json")
        pub.get_by_label("User properties").fill("origin=console\norigin=test")
        pub.get_by_role("button", name="Publish").click()
        m = device.get()
        assert m.topic == "from-console/lamp"
        assert json.loads(m.payload) == {"on": True}
        assert m.qos == 1
        assert m.properties.ContentType == "application/json"
        assert m.properties.UserProperty == [("origin", "console"), ("origin", "test")]

        # A bad expiry is refused in the page, before anything is sent.
        pub.get_by_label("Message expiry").fill("soon")
        pub.get_by_role("button", name="Publish").click()
        expect(page.get_by_role("alert")).to_contain_text("whole number of seconds")
        device.expect_none()
    finally:
        device.close()


def test_mqtt_client_with_a_bad_secret_is_refused(browser, server):
    # Signed in with a wrong secret planted in the session: the API calls would fail too, but
    # the WebSocket refusal is what this checks (the broker verifies the presigned URL).
    reset(server)
    context = browser.new_context()
    context.set_default_timeout(TIMEOUT_MS)
    pg = context.new_page()
    pg.goto(f"{server.endpoint}/console/")
    creds = {"accessKeyId": ACCESS_KEY_ID, "secretAccessKey": "wrong", "region": REGION,
             "endpoint": server.endpoint}
    pg.evaluate("c => sessionStorage.setItem('ferrite-console-credentials', JSON.stringify(c))", creds)
    pg.goto(f"{server.endpoint}/console/mqtt")
    pg.get_by_role("button", name="Connect").click()
    expect(pg.get_by_role("alert")).to_contain_text("Connection failed")
    expect(pg.get_by_role("status").filter(has_text="Not connected")).to_be_visible()
    context.close()


@pytest.mark.parametrize("route,title", [
    ("dashboard", "Dashboard"), ("policies", "Policies"), ("rules", "Rules"), ("jobs", "Jobs"),
    ("provisioning", "Provisioning templates"),
])
def test_every_page_is_built_on_a_deep_link(page, server, route, title):
    sign_in(page, server)
    expect(page.get_by_role("heading", name="Things")).to_be_visible()
    expect(page.locator("nav .soon")).to_have_count(0)
    page.goto(f"{server.endpoint}/console/{route}")
    expect(page.get_by_role("heading", name=title, level=1)).to_be_visible()
    expect(page.get_by_text("not built yet")).to_have_count(0)
    shot(page, f"page-{route}")


def shadow_pre(region, part):
    """The pretty-printed part (Desired, Reported, Delta, Metadata) of a shown shadow."""
    return region.get_by_label(part, exact=True)


def test_shadows_edit_desired_and_follow_reported_live(page, server):
    iot = aws_client(server)
    data = aws_client(server, "iot-data")
    iot.create_thing(thingName="console-heater")
    sign_in(page, server)
    page.get_by_role("link", name="Shadows").click()
    page.get_by_label("Thing name").fill("console-heater")
    page.get_by_role("button", name="Open shadows").click()
    expect(page).to_have_url(f"{server.endpoint}/console/shadows/console-heater")
    # Live updates come over the console's MQTT WebSocket connection.
    expect(page.get_by_role("status").filter(has_text="Live updates on.")).to_be_visible()
    view = page.get_by_role("region", name="Shadow Classic shadow")
    expect(view).to_contain_text("no document yet")

    # Invalid JSON is refused inline, before anything is sent.
    editor = view.get_by_label("Desired state (JSON)")
    editor.fill('{"target": 21,')
    expect(view.get_by_text("Not valid JSON")).to_be_visible()
    expect(editor).to_have_attribute("aria-invalid", "true")
    expect(view.get_by_role("button", name="Save desired")).to_be_disabled()
    editor.fill("[1, 2]")
    expect(view.get_by_text("Desired must be a JSON object")).to_be_visible()

    editor.fill('{"target": 21, "mode": "eco"}')
    view.get_by_role("button", name="Save desired").click()
    expect(view.get_by_text("Saved desired state of Classic shadow.")).to_be_visible()
    expect(view.get_by_test_id("shadow-version")).to_have_text("1")
    expect(shadow_pre(view, "Desired")).to_have_text('{\n  "mode": "eco",\n  "target": 21\n}')
    expect(shadow_pre(view, "Delta")).to_contain_text('"mode": "eco"')
    doc = json.loads(data.get_thing_shadow(thingName="console-heater")["payload"].read())
    assert doc["state"]["desired"] == {"target": 21, "mode": "eco"}
    assert doc["version"] == 1

    # The device reports: the page follows without a reload.
    data.update_thing_shadow(thingName="console-heater",
                             payload=json.dumps({"state": {"reported": {"target": 21, "mode": "eco"}}}))
    expect(shadow_pre(view, "Reported")).to_contain_text('"target": 21')
    expect(view.get_by_test_id("shadow-version")).to_have_text("2")
    expect(shadow_pre(view, "Delta")).to_have_text("—")
    shot(page, "shadows")

    # A named shadow made by a device shows up in the list live; the page deletes it.
    data.update_thing_shadow(thingName="console-heater", shadowName="schedule",
                             payload=json.dumps({"state": {"reported": {"night": 17}}}))
    page.get_by_role("list", name="Shadows").get_by_role("button", name="schedule").click()
    named = page.get_by_role("region", name="Shadow schedule")
    expect(shadow_pre(named, "Reported")).to_contain_text('"night": 17')
    named.get_by_role("button", name="Delete shadow").click()
    named.get_by_role("button", name="Confirm delete schedule").click()
    expect(named.get_by_text("Deleted schedule.")).to_be_visible()
    expect(page.get_by_role("list", name="Shadows").get_by_role("button", name="schedule")).to_have_count(0)
    assert data.list_named_shadows_for_thing(thingName="console-heater")["results"] == []


def test_shadow_save_with_a_stale_version_shows_the_conflict(page, server):
    iot = aws_client(server)
    data = aws_client(server, "iot-data")
    iot.create_thing(thingName="console-valve")
    data.update_thing_shadow(thingName="console-valve", payload=json.dumps({"state": {"desired": {"open": False}}}))
    # Without the MQTT WebSocket the page cannot follow changes: it says so, and a save from
    # the stale version it shows is the API's conflict, not an overwrite.
    page.route_web_socket(re.compile(r"/mqtt(\?|$)"), lambda ws: ws.close())
    sign_in(page, server)
    expect(page.get_by_role("heading", name="Things")).to_be_visible()
    page.goto(f"{server.endpoint}/console/shadows/console-valve")
    expect(page.get_by_role("status").filter(has_text="Live updates are unavailable")).to_be_visible()
    view = page.get_by_role("region", name="Shadow Classic shadow")
    expect(view.get_by_test_id("shadow-version")).to_have_text("1")
    data.update_thing_shadow(thingName="console-valve", payload=json.dumps({"state": {"desired": {"by": "device"}}}))
    view.get_by_label("Desired state (JSON)").fill('{"open": true}')
    view.get_by_role("button", name="Save desired").click()
    expect(view.get_by_role("alert")).to_contain_text("Version conflict")
    shot(page, "shadows-conflict")
    doc = json.loads(data.get_thing_shadow(thingName="console-valve")["payload"].read())
    assert doc["state"]["desired"] == {"open": False, "by": "device"}
    assert doc["version"] == 2


def cert_row(page, cert_id):
    return page.locator(f'tr[data-certificate="{cert_id}"]')


def test_certificates_create_once_shown_keys_change_status_attach_and_delete(page, server):
    from botocore.exceptions import ClientError
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    iot = aws_client(server)
    iot.create_thing(thingName="console-sensor")
    iot.create_policy(policyName="console-connect", policyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iot:Connect", "Resource": "*"}]}))
    sign_in(page, server)
    page.get_by_role("link", name="Certificates and CAs").click()
    expect(page.get_by_role("heading", name="Certificates and CAs")).to_be_visible()
    expect(page.get_by_role("cell", name="No certificates on this page.")).to_be_visible()

    create = page.get_by_role("form", name="Create certificate")
    expect(create.get_by_label("Activate the certificate")).to_be_checked()
    create.get_by_role("button", name="Create certificate").click()
    new = page.get_by_role("region", name="New certificate and keys")
    expect(new.get_by_role("alert")).to_contain_text("cannot be shown or downloaded again")
    cert_pem = new.get_by_label("Certificate PEM").input_value()
    key_pem = new.get_by_label("Private key").input_value()
    assert cert_pem.startswith("-----BEGIN CERTIFICATE-----")
    # The key shown is the one the certificate is for, and the download holds the same text.
    cert = x509.load_pem_x509_certificate(cert_pem.encode())
    key = serialization.load_pem_private_key(key_pem.encode(), password=None)
    assert key.public_key().public_numbers() == cert.public_key().public_numbers()
    with page.expect_download() as download:
        new.get_by_role("link", name="Download private key").click()
    assert pathlib.Path(download.value.path()).read_text() == key_pem
    shot(page, "certificates-created")

    described = iot.list_certificates()["certificates"]
    assert len(described) == 1
    cid, arn = described[0]["certificateId"], described[0]["certificateArn"]
    d = iot.describe_certificate(certificateId=cid)["certificateDescription"]
    assert d["status"] == "ACTIVE"
    assert d["certificatePem"].strip() == cert_pem.strip()

    # Once dismissed, the private key is gone from the page.
    new.get_by_role("button", name="Done: I have saved the private key").click()
    expect(page.get_by_label("Private key")).to_have_count(0)
    row = cert_row(page, cid)
    expect(row).to_contain_text("ACTIVE")

    # An active certificate cannot be deleted: the API's error is shown.
    row.get_by_role("button", name="Delete").click()
    row.get_by_role("button", name="Confirm delete").click()
    expect(page.get_by_role("alert")).to_contain_text("CertificateStateException")
    assert iot.describe_certificate(certificateId=cid)["certificateDescription"]["status"] == "ACTIVE"
    row.get_by_role("button", name="Cancel").click()

    row.get_by_role("button", name="Deactivate").click()
    expect(row.get_by_role("cell", name="INACTIVE", exact=True)).to_be_visible()
    assert iot.describe_certificate(certificateId=cid)["certificateDescription"]["status"] == "INACTIVE"

    # Policies and things of the certificate.
    row.get_by_role("button", name="Policies and things").click()
    attachments = page.get_by_role("region", name=f"Attachments of certificate {cid[:10]}")
    attachments.get_by_label("Policy name").fill("console-connect")
    attachments.get_by_role("button", name="Attach policy").click()
    expect(attachments.get_by_role("list", name="Attached policies")).to_contain_text("console-connect")
    assert [p["policyName"] for p in iot.list_attached_policies(target=arn)["policies"]] == ["console-connect"]
    attachments.get_by_label("Thing name").fill("console-sensor")
    attachments.get_by_role("button", name="Attach thing").click()
    expect(attachments.get_by_role("list", name="Attached things")).to_contain_text("console-sensor")
    assert iot.list_thing_principals(thingName="console-sensor")["principals"] == [arn]
    # A policy that does not exist: the API's message.
    attachments.get_by_label("Policy name").fill("no-such-policy")
    attachments.get_by_role("button", name="Attach policy").click()
    expect(attachments.get_by_role("alert")).to_contain_text("ResourceNotFoundException")
    shot(page, "certificates-attachments")
    attachments.get_by_role("button", name="Detach policy console-connect").click()
    expect(attachments.get_by_role("list", name="Attached policies")).to_contain_text("No policies attached.")
    attachments.get_by_role("button", name="Detach thing console-sensor").click()
    expect(attachments.get_by_role("list", name="Attached things")).to_contain_text("No things attached.")
    assert iot.list_attached_policies(target=arn)["policies"] == []
    assert iot.list_thing_principals(thingName="console-sensor")["principals"] == []

    # Inactive and detached, it can be deleted.
    row.get_by_role("button", name="Delete").click()
    row.get_by_role("button", name="Confirm delete").click()
    expect(row).to_have_count(0)
    with pytest.raises(ClientError) as e:
        iot.describe_certificate(certificateId=cid)
    assert e.value.response["Error"]["Code"] == "ResourceNotFoundException"

    # Created inactive when the box is cleared; then revoked from the page.
    create.get_by_label("Activate the certificate").uncheck()
    create.get_by_role("button", name="Create certificate").click()
    expect(new).to_be_visible()
    new.get_by_role("button", name="Done: I have saved the private key").click()
    [second] = iot.list_certificates()["certificates"]
    assert iot.describe_certificate(certificateId=second["certificateId"])["certificateDescription"]["status"] == "INACTIVE"
    row = cert_row(page, second["certificateId"])
    expect(row.get_by_role("cell", name="INACTIVE", exact=True)).to_be_visible()
    row.get_by_role("button", name="Revoke").click()
    expect(row.get_by_role("cell", name="REVOKED", exact=True)).to_be_visible()
    assert iot.describe_certificate(certificateId=second["certificateId"])["certificateDescription"]["status"] == "REVOKED"


def test_certificates_list_pages_and_shows_ca_certificates(page, server):
    import datetime
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.timezone.utc)

    def self_signed(cn, ca=False):
        k = ec.generate_private_key(ec.SECP256R1())
        n = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
        b = (x509.CertificateBuilder().subject_name(n).issuer_name(n).public_key(k.public_key())
             .serial_number(x509.random_serial_number())
             .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=30)))
        if ca:
            b = b.add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        return b.sign(k, hashes.SHA256()).public_bytes(serialization.Encoding.PEM).decode()

    iot = aws_client(server)
    for i in range(27):
        iot.register_certificate_without_ca(certificatePem=self_signed(f"device-{i}"), status="ACTIVE")
    ca_id = iot.register_ca_certificate(caCertificate=self_signed("Console CA", ca=True),
                                        certificateMode="SNI_ONLY")["certificateId"]
    ca_status = iot.describe_ca_certificate(certificateId=ca_id)["certificateDescription"]["status"]
    sign_in(page, server)
    expect(page.get_by_role("heading", name="Things")).to_be_visible()
    page.goto(f"{server.endpoint}/console/certificates")
    rows = page.get_by_role("table", name="Certificates", exact=True).locator("tbody tr[data-certificate]")
    expect(rows).to_have_count(25)
    pager = page.get_by_role("group", name="certificates pages", exact=True)
    pager.get_by_role("button", name="Next page").click()
    expect(rows).to_have_count(2)
    expect(pager.get_by_text("Page 2")).to_be_visible()
    expect(pager.get_by_role("button", name="Next page")).to_be_disabled()
    pager.get_by_role("button", name="Previous page").click()
    expect(rows).to_have_count(25)
    every = {c["certificateId"] for c in iot.list_certificates(pageSize=100)["certificates"]}
    shown = set(rows.evaluate_all("rs => rs.map(r => r.dataset.certificate)"))
    assert shown < every

    ca = page.locator(f'tr[data-ca="{ca_id}"]')
    expect(ca).to_contain_text(ca_status)
    shot(page, "certificates")


def test_keyboard_reaches_the_sign_in_form_and_the_navigation(page, server):
    page.goto(f"{server.endpoint}/console/")
    page.keyboard.press("Tab")
    expect(page.get_by_label("Access key ID")).to_be_focused()
    page.keyboard.type(ACCESS_KEY_ID)
    page.keyboard.press("Tab")
    page.keyboard.type(SECRET_ACCESS_KEY)
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Things")).to_be_visible()
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
    # Following a navigation link with the keyboard moves focus to the new page's content.
    page.get_by_role("link", name="MQTT test client").focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="MQTT test client")).to_be_visible()
    expect(page.locator("main#main")).to_be_focused()


# ---------------------------------------------------------------------------------------------
# Dashboard and provisioning templates (branch console-pages-3)
# ---------------------------------------------------------------------------------------------

ROLE_ARN = "arn:aws:iam::123456789012:role/console"


def figure(page, name):
    """A figure of the dashboard (Connections now, Messages in, ...) by its data-figure name."""
    return page.locator(f'[data-figure="{name}"]')


def wait_at_least(page, name, n):
    """Waits (Playwright polling, no sleep) until a dashboard figure reads a number >= n."""
    page.wait_for_function(
        """([name, n]) => {
            const el = document.querySelector(`[data-figure="${name}"]`);
            return el && Number(el.textContent.replace(/[,/s]/g, "")) >= n;
        }""",
        arg=[name, n], timeout=TIMEOUT_MS)


def tab_to(page, name, limit=80):
    """Presses Tab until the focused element's accessible text is `name` (keyboard only)."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        label = page.evaluate("""() => {
            const e = document.activeElement;
            if (!e) return "";
            const byId = e.id && document.querySelector(`label[for="${e.id}"]`);
            return (e.getAttribute("aria-label") || (byId && byId.textContent) || e.textContent || "").trim();
        }""")
        if label == name:
            return
    raise AssertionError(f"Tab never reached {name!r}")


def test_the_console_works_from_the_keyboard_alone(page, server):
    page.goto(f"{server.endpoint}/console/")
    tab_to(page, "Access key ID")
    page.keyboard.type(ACCESS_KEY_ID)
    tab_to(page, "Secret access key")
    page.keyboard.type(SECRET_ACCESS_KEY)
    page.keyboard.press("Enter")
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    # To a page through the navigation, then a form opened and submitted, all with keys.
    tab_to(page, "Policies")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Policies")).to_be_visible()
    tab_to(page, "Create policy")
    page.keyboard.press("Enter")
    tab_to(page, "Policy name")
    page.keyboard.type("keyboard-policy")
    tab_to(page, "Policy document (JSON)")
    page.keyboard.press("Control+A")
    page.keyboard.type('{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:Connect","Resource":"*"}]}')
    tab_to(page, "Create policy")
    page.keyboard.press("Enter")
    expect(page.locator('tr[data-policy="keyboard-policy"]')).to_be_visible()
    assert aws_client(server).get_policy(policyName="keyboard-policy")["policyName"] == "keyboard-policy"


def test_dashboard_shows_where_the_jobs_in_progress_stand(page, server):
    iot = aws_client(server)
    jobs_data = aws_client(server, "iot-jobs-data")
    arns = [iot.create_thing(thingName=f"dash-pump-{i}")["thingArn"] for i in range(2)]
    iot.create_job(jobId="dash-rollout", targets=arns, document='{"step":"flash"}')
    sign_in(page, server)
    page.goto(f"{server.endpoint}/console/dashboard")
    row = page.locator('tr[data-job="dash-rollout"]')
    expect(row).to_be_visible()
    cells = row.locator("td")
    expect(cells.nth(0)).to_have_text("2")  # queued
    page.evaluate("window.__notReloaded = true")
    # One device runs it; the other has not started: the job is still in progress.
    jobs_data.start_next_pending_job_execution(thingName="dash-pump-0")
    jobs_data.update_job_execution(thingName="dash-pump-0", jobId="dash-rollout", status="SUCCEEDED")
    details = iot.describe_job(jobId="dash-rollout")["job"]["jobProcessDetails"]
    assert (details["numberOfSucceededThings"], details["numberOfQueuedThings"]) == (1, 1), details
    expect(cells.nth(2)).to_have_text("1", timeout=TIMEOUT_MS)  # succeeded (polled every 3 s)
    expect(cells.nth(0)).to_have_text("1")  # queued
    assert page.evaluate("window.__notReloaded") is True
    page.screenshot(path=str(SHOTS / "dashboard-jobs.png"), full_page=True)
    # Done everywhere: the job completes and leaves the list.
    jobs_data.start_next_pending_job_execution(thingName="dash-pump-1")
    jobs_data.update_job_execution(thingName="dash-pump-1", jobId="dash-rollout", status="FAILED")
    expect(page.get_by_text("No job is in progress.")).to_be_visible(timeout=TIMEOUT_MS)


def test_dashboard_follows_connections_message_rates_and_rules_live(page, server):
    iot = aws_client(server)
    iot.create_topic_rule(ruleName="dash_rule", topicRulePayload={
        "sql": "SELECT * FROM 'dash/#'", "awsIotSqlVersion": "2016-03-23",
        "actions": [{"republish": {"roleArn": ROLE_ARN, "topic": "dash-out/copy"}}],
    })
    sign_in(page, server)
    expect(page.get_by_role("heading", name="Things")).to_be_visible()
    page.get_by_role("link", name="Dashboard").click()
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    expect(page.get_by_role("status")).to_contain_text("Updated")
    # Everything below arrives by polling: a reload would lose this mark.
    page.evaluate("window.__notReloaded = true")
    received_before = int(figure(page, "messages-in").inner_text().replace(",", ""))

    devices = [Client(f"dash-{i}", protocol=mqtt.MQTTv5) for i in range(3)]
    try:
        for d in devices:
            d.connect(server.ports["mqtt"])
        expect(figure(page, "connections")).to_have_text("3")
        for i in range(30):
            devices[i % 3].publish(f"dash/burst/{i % 3}", b'{"n": 1}', qos=1)
        devices[0].publish("dash/state", b"on", qos=1, retain=True)
        wait_at_least(page, "messages-in", received_before + 31)
        wait_at_least(page, "rate-in-peak", 0.1)
        wait_at_least(page, "retained", 1)
        rule = page.get_by_role("table", name="Rule activity").locator('tr[data-rule="dash_rule"]')
        expect(rule.locator("td").first).to_have_text("31")
        expect(page.get_by_role("img", name=re.compile("Messages per second"))).to_be_visible()
        shot(page, "dashboard")

        # A failed poll says so and keeps the last values; the next good one clears it.
        page.route("**/metrics", lambda route: route.abort())
        expect(page.get_by_role("alert")).to_contain_text("Could not read the metrics")
        expect(figure(page, "connections")).to_have_text("3")
        page.unroute("**/metrics")
        expect(page.get_by_role("alert")).to_have_count(0)

        devices.pop().close()
        expect(figure(page, "connections")).to_have_text("2")
    finally:
        for d in devices:
            d.close()
    assert page.evaluate("window.__notReloaded") is True



def fleet_body(prefix):
    return {
        "Parameters": {"SerialNumber": {"Type": "String"}},
        "Resources": {
            "thing": {"Type": "AWS::IoT::Thing", "Properties": {
                "ThingName": {"Fn::Join": ["", [prefix, {"Ref": "SerialNumber"}]]}}},
            "certificate": {"Type": "AWS::IoT::Certificate", "Properties": {
                "CertificateId": {"Ref": "AWS::IoT::Certificate::Id"}, "Status": "ACTIVE"}},
        },
    }


def template_row(page, name):
    return page.locator(f'tr[data-template="{name}"]')


def test_provisioning_templates_create_version_enable_and_delete(page, server):
    iot = aws_client(server)
    sign_in(page, server)
    expect(page.get_by_role("heading", name="Things")).to_be_visible()
    page.get_by_role("link", name="Provisioning templates").click()
    expect(page.get_by_role("heading", name="Provisioning templates")).to_be_visible()

    page.get_by_role("button", name="Create template").click()
    form = page.get_by_role("form", name="Create provisioning template")
    form.get_by_label("Template name").fill("console-fleet")
    form.get_by_label("Description (optional)").fill("Kitchen devices")
    form.get_by_label("Provisioning role ARN").fill(ROLE_ARN)
    body = form.get_by_label("Template body (JSON)")
    # Broken JSON is caught as it is typed, before any call.
    body.fill('{"Resources": ')
    expect(form.get_by_text("Not valid JSON")).to_be_visible()
    expect(body).to_have_attribute("aria-invalid", "true")
    expect(form.get_by_role("button", name="Create", exact=True)).to_be_disabled()
    # Valid JSON the API refuses comes back as the API's own error.
    body.fill('{"Resources": 1}')
    form.get_by_role("button", name="Create", exact=True).click()
    expect(form.get_by_role("alert")).to_contain_text("InvalidRequestException")
    shot(page, "provisioning-create-error")

    body.fill(json.dumps(fleet_body("kitchen_"), indent=2))
    expect(form.get_by_label("Enabled (devices can provision with it)")).to_be_checked()
    form.get_by_role("button", name="Create", exact=True).click()
    row = template_row(page, "console-fleet")
    expect(row).to_contain_text("Kitchen devices")
    expect(row.locator("td").nth(2)).to_have_text("Yes")
    described = iot.describe_provisioning_template(templateName="console-fleet")
    assert described["enabled"] is True
    assert json.loads(described["templateBody"]) == fleet_body("kitchen_")
    assert described["provisioningRoleArn"] == ROLE_ARN
    assert described["defaultVersionId"] == 1

    row.get_by_role("button", name="Disable console-fleet").click()
    expect(row.locator("td").nth(2)).to_have_text("No")
    assert iot.describe_provisioning_template(templateName="console-fleet")["enabled"] is False
    row.get_by_role("button", name="Enable console-fleet").click()
    expect(row.locator("td").nth(2)).to_have_text("Yes")
    assert iot.describe_provisioning_template(templateName="console-fleet")["enabled"] is True

    # A second version, made the default when saved.
    row.get_by_role("button", name="Details and versions of console-fleet").click()
    details = page.get_by_role("region", name="Provisioning template console-fleet")
    versions = details.get_by_role("table", name="Versions of console-fleet").locator("tbody tr")
    expect(versions).to_have_count(1)
    details.get_by_role("button", name="Add version of console-fleet").click()
    add = details.get_by_role("form", name="Add a version of console-fleet")
    vbody = add.get_by_label("Template body (JSON)")
    expect(vbody).to_have_value(json.dumps(fleet_body("kitchen_"), indent=2))
    vbody.fill(json.dumps(fleet_body("pantry_")))
    add.get_by_label("Make it the default version").check()
    add.get_by_role("button", name="Save version").click()
    expect(details.get_by_role("status")).to_have_text("Added version 2 as the default.")
    expect(versions).to_have_count(2)
    expect(details.get_by_test_id("default-version")).to_have_text("2")
    expect(details.locator('tr[data-version="2"]')).to_contain_text("Default")
    expect(details.get_by_label("Body of the default version")).to_contain_text("pantry_")
    described = iot.describe_provisioning_template(templateName="console-fleet")
    assert described["defaultVersionId"] == 2
    assert json.loads(described["templateBody"]) == fleet_body("pantry_")
    shot(page, "provisioning-versions")

    # A version the API refuses is reported in the version form.
    details.get_by_role("button", name="Add version of console-fleet").click()
    vbody.fill('{"Resources": {"x": {"Type": "AWS::IoT::Nothing"}}}')
    add.get_by_role("button", name="Save version").click()
    expect(add.get_by_role("alert")).to_contain_text("InvalidRequestException")
    add.get_by_role("button", name="Cancel").click()

    # Back to version 1 as the default.
    details.get_by_role("button", name="Make default version 1").click()
    expect(details.get_by_test_id("default-version")).to_have_text("1")
    assert iot.describe_provisioning_template(templateName="console-fleet")["defaultVersionId"] == 1

    row.get_by_role("button", name="Delete console-fleet").click()
    row.get_by_role("button", name="Confirm delete console-fleet").click()
    expect(row).to_have_count(0)
    expect(page.get_by_role("status").first).to_have_text("Deleted provisioning template console-fleet.")
    assert iot.list_provisioning_templates()["templates"] == []


def test_provisioning_templates_list_pages(page, server):
    iot = aws_client(server)
    for i in range(27):
        iot.create_provisioning_template(templateName=f"fleet-{i:02}", templateBody=json.dumps(fleet_body(f"d{i}_")),
                                         provisioningRoleArn=ROLE_ARN, enabled=i % 2 == 0)
    sign_in(page, server)
    expect(page.get_by_role("heading", name="Things")).to_be_visible()
    page.goto(f"{server.endpoint}/console/provisioning")
    rows = page.get_by_role("table", name="Provisioning templates").locator("tbody tr[data-template]")
    expect(rows).to_have_count(25)
    pager = page.get_by_role("group", name="provisioning templates pages")
    pager.get_by_role("button", name="Next page").click()
    expect(rows).to_have_count(2)
    expect(pager.get_by_role("button", name="Next page")).to_be_disabled()
    pager.get_by_role("button", name="Previous page").click()
    expect(rows).to_have_count(25)
    every = {t["templateName"] for t in iot.list_provisioning_templates(maxResults=100)["templates"]}
    assert len(every) == 27
    shot(page, "provisioning")


def test_dashboard_shows_the_cluster_view_of_a_node(browser):
    """Two real nodes (PostgreSQL and NATS as in test_cluster.py): node 1's dashboard names its
    peer and follows its store connection through an outage."""
    from test_cluster import Cluster  # skips, saying why, without PostgreSQL or NATS

    cluster = Cluster(size=2)
    context = browser.new_context(viewport={"width": 1366, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    try:
        pg = context.new_page()
        errors = []
        pg.on("pageerror", lambda e: errors.append(str(e)))
        a = cluster.nodes[0]
        sign_in(pg, a)
        expect(pg.get_by_role("heading", name="Things")).to_be_visible()
        pg.get_by_role("link", name="Dashboard").click()
        expect(figure(pg, "node")).to_have_text("n1")
        expect(figure(pg, "bus")).to_have_text("connected")
        expect(figure(pg, "store")).to_have_text("connected")
        # Peers are heard through heartbeats (every 2 s).
        expect(pg.get_by_role("table", name="Peers").get_by_role("rowheader")).to_have_text(["n2"], timeout=30_000)
        shot(pg, "dashboard-cluster")

        cluster.pg.cut()
        try:
            expect(figure(pg, "store")).to_have_text("disconnected", timeout=30_000)
            expect(pg.get_by_role("alert")).to_contain_text("This node cannot serve")
            # The broker figures stay: /metrics is served while the node is degraded.
            expect(figure(pg, "connections")).to_have_text("0")
        finally:
            cluster.pg.restore()
        expect(figure(pg, "store")).to_have_text("connected", timeout=30_000)
        expect(pg.get_by_role("alert")).to_have_count(0)
        assert not errors, f"uncaught errors in the page: {errors}"
    finally:
        context.close()
        cluster.close()


def rule_row(page, name):
    return page.locator(f'tr[data-rule="{name}"]')


def test_rules_create_republish_test_it_and_disable(page, server):
    iot = aws_client(server)
    sign_in(page, server)
    page.get_by_role("link", name="Rules").click()
    expect(page.get_by_role("heading", name="Rules")).to_be_visible()
    expect(page.get_by_role("cell", name="No rules on this page.")).to_be_visible()

    page.get_by_role("button", name="Create rule").click()
    form = page.get_by_role("form", name="Create rule")
    form.get_by_label("Rule name").fill("console_republish")
    form.get_by_label("SQL", exact=True).fill("SELECT temp * 2 AS doubled, topic(2) AS room FROM 'in/+'")
    form.get_by_label("SQL version").select_option("2016-03-23")
    actions = form.get_by_label("Actions (JSON array)")
    # A syntax error is shown where it is, and nothing can be sent.
    actions.fill('[{"republish": {"topic": "out/${topic(2)}"')
    expect(form.get_by_text("Not valid JSON")).to_be_visible()
    expect(actions).to_have_attribute("aria-invalid", "true")
    expect(form.get_by_role("button", name="Create rule")).to_be_disabled()
    actions.fill(json.dumps([{"republish": {"roleArn": "arn:aws:iam::123456789012:role/republish",
                                            "topic": "out/${topic(2)}", "qos": 1}}]))
    expect(form.get_by_text("Not valid JSON")).to_have_count(0)

    # The test panel runs what is typed: the selected output and the republish topic.
    test = page.get_by_role("form", name="Test rule")
    test.get_by_label("Topic").fill("in/kitchen")
    test.get_by_label("Payload").fill('{"temp": 21}')
    test.get_by_role("button", name="Run test").click()
    expect(test.get_by_label("Selected output")).to_have_text('{\n  "doubled": 42,\n  "room": "kitchen"\n}')
    expect(test.get_by_role("list", name="Actions for this message")).to_contain_text("republish · topic = out/kitchen")
    test.get_by_label("Topic").fill("elsewhere/kitchen")
    test.get_by_role("button", name="Run test").click()
    expect(test).to_contain_text("does not match the rule's filter in/+")
    shot(page, "rules-create")

    form.get_by_role("button", name="Create rule").click()
    row = rule_row(page, "console_republish")
    expect(row).to_contain_text("in/+")
    expect(row).to_contain_text("Enabled")
    got = iot.get_topic_rule(ruleName="console_republish")["rule"]
    assert got["awsIotSqlVersion"] == "2016-03-23"
    assert got["actions"][0]["republish"]["topic"] == "out/${topic(2)}"

    device = Client("console-rules-paho", protocol=mqtt.MQTTv5)
    device.connect(server.ports["mqtt"])
    try:
        device.subscribe("out/#")
        device.publish("in/x", json.dumps({"temp": 20.5}), qos=1)
        m = device.get()
        assert m.topic == "out/x"
        assert json.loads(m.payload) == {"doubled": 41, "room": "x"}
        # The counters from /metrics follow.
        counters = page.get_by_role("list", name="Counters of console_republish")
        expect(counters).to_contain_text("matched 1")
        expect(counters).to_contain_text("actions ok 1")
        shot(page, "rules")

        row.get_by_role("button", name="Disable rule console_republish").click()
        expect(row).to_contain_text("Disabled")
        assert iot.get_topic_rule(ruleName="console_republish")["rule"]["ruleDisabled"] is True
        device.publish("in/y", json.dumps({"temp": 1}), qos=1)
        device.expect_none()
    finally:
        device.close()

    # Edit: the form holds the rule as read; an API refusal is shown with its name.
    row.get_by_role("button", name="Edit rule console_republish").click()
    edit = page.get_by_role("form", name="Edit rule console_republish")
    expect(edit.get_by_label("SQL", exact=True)).to_have_value("SELECT temp * 2 AS doubled, topic(2) AS room FROM 'in/+'")
    edit.get_by_label("SQL", exact=True).fill("SELECT FROM nowhere")
    edit.get_by_role("button", name="Save rule").click()
    expect(edit.get_by_role("alert")).to_contain_text("SqlParseException")
    edit.get_by_label("SQL", exact=True).fill("SELECT * FROM 'in/#'")
    edit.get_by_role("button", name="Save rule").click()
    expect(row).to_contain_text("in/#")
    got = iot.get_topic_rule(ruleName="console_republish")["rule"]
    assert got["sql"] == "SELECT * FROM 'in/#'" and got["ruleDisabled"] is True

    row.get_by_role("button", name="Enable rule console_republish").click()
    expect(row).to_contain_text("Enabled")
    assert iot.get_topic_rule(ruleName="console_republish")["rule"]["ruleDisabled"] is False
    row.get_by_role("button", name="Delete rule console_republish").click()
    page.get_by_role("button", name="Confirm delete rule console_republish").click()
    expect(row).to_have_count(0)
    assert iot.list_topic_rules()["rules"] == []


def test_rules_list_pages(page, server):
    iot = aws_client(server)
    for i in range(30):
        iot.create_topic_rule(ruleName=f"r_{i:02d}", topicRulePayload={"sql": f"SELECT * FROM 't/{i}'", "actions": []})
    sign_in(page, server)
    page.goto(f"{server.endpoint}/console/rules")
    rows = page.locator("tbody tr[data-rule]")
    expect(rows).to_have_count(25)
    page.get_by_role("button", name="Next page of rules").click()
    expect(rows).to_have_count(5)
    expect(page.get_by_role("button", name="Next page of rules")).to_be_disabled()
    page.get_by_role("button", name="Previous page of rules").click()
    expect(rows).to_have_count(25)


def job_row(page, job_id):
    return page.locator(f'tr[data-job="{job_id}"]')


def test_jobs_create_for_a_thing_and_follow_its_execution_live(page, server):
    iot = aws_client(server)
    jobs_data = aws_client(server, "iot-jobs-data")
    thing_arn = iot.create_thing(thingName="console-pump")["thingArn"]
    group_arn = iot.create_thing_group(thingGroupName="pumps")["thingGroupArn"]
    sign_in(page, server)
    page.get_by_role("link", name="Jobs").click()
    expect(page.get_by_role("cell", name="No jobs on this page.")).to_be_visible()

    page.get_by_role("button", name="Create job").click()
    form = page.get_by_role("form", name="Create job")
    form.get_by_label("Job ID").fill("pump-update-1")
    form.get_by_label("Target things").fill("no-such-thing")
    form.get_by_label("Job document (JSON)").fill('{"op": ')
    expect(form.get_by_text("Not valid JSON")).to_be_visible()
    expect(form.get_by_role("button", name="Create job")).to_be_disabled()
    form.get_by_label("Job document (JSON)").fill('{"op": "update", "version": "2.1"}')
    form.get_by_label("Description").fill("firmware 2.1")
    # A name that is no thing is the API's refusal, and no job is made.
    form.get_by_role("button", name="Create job").click()
    expect(form.get_by_role("alert")).to_contain_text("ResourceNotFoundException")
    assert iot.list_jobs()["jobs"] == []
    form.get_by_label("Target things").fill("console-pump")
    form.get_by_role("button", name="Create job").click()

    row = job_row(page, "pump-update-1")
    expect(row).to_contain_text("IN_PROGRESS")
    job = iot.describe_job(jobId="pump-update-1")["job"]
    assert job["targets"] == [thing_arn] and job["description"] == "firmware 2.1"
    assert json.loads(iot.get_job_document(jobId="pump-update-1")["document"]) == {"op": "update", "version": "2.1"}

    # The details opened with the job: its execution, followed as the device runs it.
    details = page.get_by_role("region", name="Job pump-update-1")
    execution = details.locator('tr[data-execution="console-pump"]')
    expect(execution).to_contain_text("QUEUED")
    started = jobs_data.start_next_pending_job_execution(thingName="console-pump")["execution"]
    assert started["jobId"] == "pump-update-1"
    expect(execution).to_contain_text("IN_PROGRESS")
    jobs_data.update_job_execution(thingName="console-pump", jobId="pump-update-1", status="SUCCEEDED")
    expect(execution).to_contain_text("SUCCEEDED")
    expect(details.get_by_role("list", name="Executions of pump-update-1 per status")).to_contain_text("SUCCEEDED 1")
    expect(details.get_by_test_id("job-status")).to_have_text("COMPLETED")
    expect(row).to_contain_text("COMPLETED")
    details.get_by_text("Job document").click()
    expect(details.locator("pre.json")).to_contain_text('"version": "2.1"')
    shot(page, "jobs")

    # A job for a group (its member runs nothing): cancelled, then deleted, in the page.
    iot.add_thing_to_thing_group(thingGroupName="pumps", thingName="console-pump")
    page.get_by_role("button", name="Create job").click()
    form.get_by_label("Job ID").fill("pumps-check")
    form.get_by_label("Target thing groups").fill("pumps")
    form.get_by_label("Job document (JSON)").fill('{"op": "check"}')
    form.get_by_label("Target selection").select_option("CONTINUOUS")
    form.get_by_role("button", name="Create job").click()
    row2 = job_row(page, "pumps-check")
    expect(row2).to_contain_text("CONTINUOUS")
    assert iot.describe_job(jobId="pumps-check")["job"]["targets"] == [group_arn]
    row2.get_by_role("button", name="Cancel job pumps-check").click()
    row2.get_by_placeholder("Comment (optional)").fill("not needed")
    row2.get_by_role("button", name="Confirm cancel job pumps-check").click()
    expect(row2).to_contain_text("CANCELED")
    cancelled = iot.describe_job(jobId="pumps-check")["job"]
    assert cancelled["status"] == "CANCELED" and cancelled["comment"] == "not needed"
    row2.get_by_role("button", name="Delete job pumps-check").click()
    row2.get_by_role("button", name="Confirm delete job pumps-check").click()
    expect(row2).to_have_count(0)
    assert [j["jobId"] for j in iot.list_jobs()["jobs"]] == ["pump-update-1"]
    # The status filter asks the server.
    page.get_by_label("Job status").select_option("CANCELED")
    expect(page.get_by_role("cell", name="No jobs on this page.")).to_be_visible()
    page.get_by_label("Job status").select_option("COMPLETED")
    expect(row).to_be_visible()


def test_jobs_list_pages(page, server):
    iot = aws_client(server)
    arn = iot.create_thing(thingName="console-fleet")["thingArn"]
    for i in range(27):
        iot.create_job(jobId=f"j-{i:02d}", targets=[arn], document="{}")
    sign_in(page, server)
    page.goto(f"{server.endpoint}/console/jobs")
    rows = page.locator("tbody tr[data-job]")
    expect(rows).to_have_count(25)
    page.get_by_role("button", name="Next page of jobs").click()
    expect(rows).to_have_count(2)
    page.get_by_role("button", name="Previous page of jobs").click()
    expect(rows).to_have_count(25)


def policy_doc(*actions):
    return json.dumps({"Version": "2012-10-17",
                       "Statement": [{"Effect": "Allow", "Action": list(actions), "Resource": "*"}]})


def test_policies_create_with_errors_shown_then_versions(page, server):
    iot = aws_client(server)
    sign_in(page, server)
    page.get_by_role("link", name="Policies").click()
    expect(page.get_by_role("cell", name="No policies on this page.")).to_be_visible()

    page.get_by_role("button", name="Create policy").click()
    form = page.get_by_role("form", name="Create policy")
    form.get_by_label("Policy name").fill("console-devices")
    document = form.get_by_label("Policy document (JSON)")
    # A JSON syntax error is shown in the page, and nothing can be sent.
    document.fill('{"Version": "2012-10-17", "Statement": [')
    expect(form.get_by_text("Not valid JSON")).to_be_visible()
    expect(document).to_have_attribute("aria-invalid", "true")
    expect(form.get_by_role("button", name="Create policy")).to_be_disabled()
    # JSON the API refuses: its MalformedPolicyException, as it says it.
    document.fill('{"Version": "2012-10-17", "Statement": [{"Effect": "Perhaps", "Action": "iot:Connect", "Resource": "*"}]}')
    form.get_by_role("button", name="Create policy").click()
    expect(form.get_by_role("alert")).to_contain_text("MalformedPolicyException")
    assert iot.list_policies()["policies"] == []
    shot(page, "policies-error")
    document.fill(policy_doc("iot:Connect"))
    form.get_by_role("button", name="Create policy").click()
    row = page.locator('tr[data-policy="console-devices"]')
    expect(row).to_be_visible()
    got = iot.get_policy(policyName="console-devices")
    assert json.loads(got["policyDocument"]) == json.loads(policy_doc("iot:Connect"))
    assert got["defaultVersionId"] == "1"

    row.get_by_role("button", name="Versions of policy console-devices").click()
    versions = page.get_by_role("region", name="Versions of policy console-devices")
    new = versions.get_by_role("form", name="New version of console-devices")
    new_doc = new.get_by_label("Policy document (JSON)")
    # The new version starts from the default's document.
    expect(new_doc).to_have_value(re.compile("iot:Connect"))
    new_doc.fill(policy_doc("iot:Connect", "iot:Publish"))
    new.get_by_role("button", name="Create version").click()
    v2 = versions.locator('tr[data-version="2"]')
    expect(v2).to_contain_text("Default")
    listed = {v["versionId"]: v["isDefaultVersion"] for v in iot.list_policy_versions(policyName="console-devices")["policyVersions"]}
    assert listed == {"1": False, "2": True}
    assert json.loads(iot.get_policy(policyName="console-devices")["policyDocument"])["Statement"][0]["Action"] == ["iot:Connect", "iot:Publish"]

    v1 = versions.locator('tr[data-version="1"]')
    v1.get_by_role("button", name="Document of version 1").click()
    expect(versions.get_by_label("Document of version 1")).to_contain_text('"iot:Connect"')
    v1.get_by_role("button", name="Set as default version 1").click()
    expect(v1).to_contain_text("Default")
    assert iot.get_policy(policyName="console-devices")["defaultVersionId"] == "1"
    shot(page, "policies")

    # The policy still has another version: the API's refusal is shown.
    row.get_by_role("button", name="Delete policy console-devices").click()
    row.get_by_role("button", name="Confirm delete policy console-devices").click()
    expect(page.get_by_role("alert")).to_contain_text("DeleteConflictException")
    v2.get_by_role("button", name="Delete version 2").click()
    v2.get_by_role("button", name="Confirm delete version 2").click()
    expect(v2).to_have_count(0)
    assert [v["versionId"] for v in iot.list_policy_versions(policyName="console-devices")["policyVersions"]] == ["1"]
    row.get_by_role("button", name="Confirm delete policy console-devices").click()
    expect(row).to_have_count(0)
    assert iot.list_policies()["policies"] == []


def test_policies_list_pages(page, server):
    iot = aws_client(server)
    for i in range(26):
        iot.create_policy(policyName=f"p-{i:02d}", policyDocument=policy_doc("iot:Connect"))
    sign_in(page, server)
    page.goto(f"{server.endpoint}/console/policies")
    rows = page.locator("tbody tr[data-policy]")
    expect(rows).to_have_count(25)
    page.get_by_role("button", name="Next page of policies").click()
    expect(rows).to_have_count(1)
    page.get_by_role("button", name="Previous page of policies").click()
    expect(rows).to_have_count(25)
