"""The web console (`/console`) in headless Firefox (Debian's firefox-esr) against a real
`ferrite serve`, the Firefox half of "works in current Chromium and Firefox" (test_console.py is
the Chromium half). Driven over WebDriver: Selenium with a geckodriver built from crates.io
(`cargo install geckodriver --locked`), passed explicitly; Selenium Manager is kept offline and
never downloads a driver or a browser. Screenshots land in target/console-screenshots/firefox-*.png.

Skips loudly when selenium, firefox-esr or geckodriver is missing."""

import json
import os
import pathlib
import shutil

import paho.mqtt.client as mqtt
import pytest

from conftest import (ACCESS_KEY_ID, REGION, ROOT, SECRET_ACCESS_KEY, WAIT, Client, aws_client,
                      reset, start_api_server, stop_api_server)

# Selenium Manager must never fetch anything: the driver and the browser are both given.
os.environ["SE_OFFLINE"] = "true"


def _which(env, *names):
    given = os.environ.get(env)
    if given:
        return shutil.which(given)
    for name in names:
        found = shutil.which(name) or shutil.which(name, path=str(pathlib.Path.home() / ".cargo" / "bin"))
        if found:
            return found
    return None


FIREFOX = _which("FERRITE_FIREFOX", "firefox-esr", "firefox")
GECKODRIVER = _which("FERRITE_GECKODRIVER", "geckodriver")
SHOTS = ROOT / "target" / "console-screenshots"

try:
    from selenium import webdriver
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.firefox.service import Service
    from selenium.webdriver.support.ui import Select, WebDriverWait
except ImportError:  # pragma: no cover - depends on the environment
    webdriver = None

if webdriver is None:
    print("!! selenium is not installed (tests/compat/requirements.txt): the Firefox console tests are SKIPPED")
elif FIREFOX is None:
    print("!! firefox-esr not found (Debian: apt-get install firefox-esr): the Firefox console tests are SKIPPED")
elif GECKODRIVER is None:
    print("!! geckodriver not found (cargo install geckodriver --locked): the Firefox console tests are SKIPPED")

pytestmark = pytest.mark.skipif(
    webdriver is None or FIREFOX is None or GECKODRIVER is None,
    reason="Firefox console tests need selenium, Debian's firefox-esr and geckodriver",
)


@pytest.fixture(scope="module")
def server():
    f = start_api_server("embedded")
    yield f
    stop_api_server(f)


@pytest.fixture(scope="module")
def driver():
    SHOTS.mkdir(parents=True, exist_ok=True)
    options = webdriver.FirefoxOptions()
    options.binary_location = FIREFOX
    options.add_argument("-headless")
    options.add_argument("--width=1366")
    options.add_argument("--height=768")
    # WebDriver BiDi: uncaught errors in the page are reported back (see `browser`).
    options.enable_bidi = True
    log = ROOT / "target" / "geckodriver.log"
    d = webdriver.Firefox(options=options, service=Service(executable_path=GECKODRIVER, log_output=str(log)))
    d.set_window_size(1366, 768)
    d.page_errors = []
    d.script.add_javascript_error_handler(lambda entry: d.page_errors.append(entry.text))
    yield d
    d.quit()


@pytest.fixture
def browser(driver, server):
    """A clean start: empty server state, and no keys left in the tab's session storage."""
    reset(server)
    driver.get(f"{server.endpoint}/console/")
    driver.execute_script("sessionStorage.clear(); localStorage.clear();")
    driver.get("about:blank")
    driver.page_errors.clear()
    yield driver
    assert not driver.page_errors, f"uncaught errors in the page: {driver.page_errors}"


def wait(d, condition, message=""):
    return WebDriverWait(d, WAIT, ignored_exceptions=[StaleElementReferenceException]).until(condition, message)


def shot(d, name):
    d.save_full_page_screenshot(str(SHOTS / f"firefox-{name}.png"))


def text_of(d, css):
    """The text of the first element matching `css`, or None (a WebDriverWait condition helper)."""
    found = d.find_elements(By.CSS_SELECTOR, css)
    return found[0].text if found else None


def wait_text(d, css, expected, contains=False):
    def ok(dr):
        t = text_of(dr, css)
        return t is not None and (expected in t if contains else t == expected)
    wait(d, ok, f"{css} never read {expected!r} (last: {text_of(d, css)!r})")


def fill(el, value):
    """Replaces an input's text by typing, so the page's input handlers see every change."""
    el.send_keys(Keys.CONTROL, "a")
    el.send_keys(Keys.DELETE)
    el.send_keys(value)


def button(scope, name):
    return scope.find_element(By.XPATH, f".//button[normalize-space()='{name}']")


def nav_link(d, name):
    return d.find_element(By.XPATH, f"//nav[@aria-label='Console pages']//a[normalize-space()='{name}']")


def sign_in(d, server, secret=SECRET_ACCESS_KEY):
    d.get(f"{server.endpoint}/console/")
    key = wait(d, lambda dr: dr.find_element(By.ID, "access-key-id"))
    fill(key, ACCESS_KEY_ID)
    fill(d.find_element(By.ID, "secret-access-key"), secret)
    assert d.find_element(By.ID, "region").get_attribute("value") == REGION
    button(d, "Sign in").click()


def wait_signed_in(d):
    wait(d, lambda dr: nav_link(dr, "Things").is_displayed(), "the console pages never showed")


def figure(d, name):
    t = text_of(d, f'[data-figure="{name}"]')
    try:
        return float(t.replace(",", "").replace("/s", "").strip())
    except (AttributeError, ValueError):
        return None


def test_firefox_sign_in_refuses_a_wrong_secret_then_signs_in(browser, server):
    d = browser
    sign_in(d, server, secret="not-the-secret")
    wait_text(d, '[role="alert"]', "signature", contains=True)
    shot(d, "sign-in-error")
    fill(d.find_element(By.ID, "secret-access-key"), SECRET_ACCESS_KEY)
    button(d, "Sign in").click()
    wait_signed_in(d)
    wait(d, lambda dr: nav_link(dr, "Things").get_attribute("aria-current") == "page")
    shot(d, "signed-in")
    # The keys live in the tab's session: a reload stays signed in.
    d.refresh()
    wait_signed_in(d)
    stored = json.loads(d.execute_script("return sessionStorage.getItem('ferrite-console-credentials')"))
    assert stored["accessKeyId"] == ACCESS_KEY_ID and stored["region"] == REGION
    assert d.execute_script("return localStorage.length") == 0


def test_firefox_things_create_through_the_api(browser, server):
    d = browser
    iot = aws_client(server)
    sign_in(d, server)
    wait(d, lambda dr: dr.find_element(By.XPATH, "//h1[normalize-space()='Things']"))
    button(d, "Create thing").click()
    form = wait(d, lambda dr: dr.find_element(By.CSS_SELECTOR, 'form[aria-label="Create thing"]'))
    fill(form.find_element(By.ID, "new-thing-name"), "firefox-lamp")
    button(form, "Add attribute").click()
    name = wait(d, lambda dr: form.find_element(By.XPATH, ".//label[normalize-space()='Name']/following-sibling::input[1]"))
    fill(name, "room")
    fill(form.find_element(By.XPATH, ".//label[normalize-space()='Value']/following-sibling::input[1]"), "hall")
    button(form, "Create").click()
    wait_text(d, 'tr[data-thing="firefox-lamp"]', "room=hall", contains=True)
    described = iot.describe_thing(thingName="firefox-lamp")
    assert described["attributes"] == {"room": "hall"}
    assert [t["thingName"] for t in iot.list_things()["things"]] == ["firefox-lamp"]
    shot(d, "things")


def test_firefox_mqtt_client_receives_paho_messages_and_publishes(browser, server):
    """SigV4-presigned WebSocket + mqtt.js in Firefox, both directions."""
    d = browser
    sign_in(d, server)
    wait_signed_in(d)
    nav_link(d, "MQTT test client").click()
    wait(d, lambda dr: dr.current_url == f"{server.endpoint}/console/mqtt")
    url = wait(d, lambda dr: dr.find_element(By.ID, "mqtt-url"))
    assert url.get_attribute("value") == f"ws://127.0.0.1:{server.ports['ws']}/mqtt"
    button(d, "Connect").click()
    wait_text(d, 'p.status[role="status"]', "Connected as", contains=True)

    sub = d.find_element(By.CSS_SELECTOR, 'form[aria-label="Subscribe"]')
    fill(sub.find_element(By.ID, "sub-filter"), "console/#")
    Select(sub.find_element(By.ID, "sub-qos")).select_by_value("1")
    button(sub, "Subscribe").click()
    wait_text(d, 'ul[aria-label="Subscriptions"]', "console/#", contains=True)

    device = Client("firefox-paho", protocol=mqtt.MQTTv5)
    device.connect(server.ports["mqtt"])
    try:
        device.subscribe("from-firefox/#")
        device.publish("console/kitchen", json.dumps({"temp": 21.5, "unit": "C"}), qos=1)
        wait_text(d, "ol.messages li.message .topic", "console/kitchen")
        wait_text(d, "ol.messages li.message pre.json", '{\n  "temp": 21.5,\n  "unit": "C"\n}')
        shot(d, "mqtt-client")

        pub = d.find_element(By.CSS_SELECTOR, 'form[aria-label="Publish"]')
        fill(pub.find_element(By.ID, "pub-topic"), "from-firefox/lamp")
        Select(pub.find_element(By.ID, "pub-qos")).select_by_value("1")
        fill(pub.find_element(By.ID, "pub-payload"), '{"on": true}')
        button(pub, "Publish").click()
        m = device.get()
        assert m.topic == "from-firefox/lamp"
        assert json.loads(m.payload) == {"on": True}
        assert m.qos == 1
    finally:
        device.close()


def test_firefox_shadows_save_desired_and_follow_reported_live(browser, server):
    d = browser
    iot = aws_client(server)
    data = aws_client(server, "iot-data")
    iot.create_thing(thingName="firefox-heater")
    sign_in(d, server)
    wait_signed_in(d)
    nav_link(d, "Shadows").click()
    fill(wait(d, lambda dr: dr.find_element(By.ID, "shadow-thing")), "firefox-heater")
    button(d, "Open shadows").click()
    wait(d, lambda dr: dr.current_url == f"{server.endpoint}/console/shadows/firefox-heater")
    # Live updates come over the console's MQTT WebSocket connection.
    wait_text(d, 'p.status[role="status"]', "Live updates on.")
    region = '[role="region"][aria-label="Shadow Classic shadow"]'
    wait_text(d, region, "no document yet", contains=True)

    view = d.find_element(By.CSS_SELECTOR, region)
    fill(view.find_element(By.CSS_SELECTOR, "textarea.json-editor"), '{"target": 21, "mode": "eco"}')
    button(view, "Save desired").click()
    wait_text(d, region, "Saved desired state of Classic shadow.", contains=True)
    wait_text(d, f'{region} [data-testid="shadow-version"]', "1")
    doc = json.loads(data.get_thing_shadow(thingName="firefox-heater")["payload"].read())
    assert doc["state"]["desired"] == {"target": 21, "mode": "eco"}
    assert doc["version"] == 1

    # The device reports: the page follows without a reload.
    data.update_thing_shadow(thingName="firefox-heater",
                             payload=json.dumps({"state": {"reported": {"target": 21, "mode": "eco"}}}))
    wait_text(d, f'{region} [data-testid="shadow-version"]', "2")
    reported = view.find_element(By.XPATH, ".//h3[normalize-space()='Reported']/following-sibling::pre[1]")
    wait(d, lambda dr: '"target": 21' in reported.text)
    shot(d, "shadows")


def test_firefox_dashboard_renders_connection_and_message_figures(browser, server):
    d = browser
    sign_in(d, server)
    wait_signed_in(d)
    nav_link(d, "Dashboard").click()
    wait(d, lambda dr: dr.find_element(By.XPATH, "//h1[normalize-space()='Dashboard']"))
    wait_text(d, 'p.status[role="status"]', "Updated", contains=True)
    wait(d, lambda dr: figure(dr, "messages-in") is not None)
    received_before = figure(d, "messages-in")

    devices = [Client(f"firefox-dash-{i}", protocol=mqtt.MQTTv5) for i in range(3)]
    try:
        for c in devices:
            c.connect(server.ports["mqtt"])
        wait_text(d, '[data-figure="connections"]', "3")
        for i in range(12):
            devices[i % 3].publish(f"dash/burst/{i % 3}", b'{"n": 1}', qos=1)
        wait(d, lambda dr: (figure(dr, "messages-in") or 0) >= received_before + 12,
             "messages-in never counted the 12 publishes")
        wait(d, lambda dr: (figure(dr, "rate-in-peak") or 0) > 0, "the peak rate never rose")
        chart = d.find_element(By.CSS_SELECTOR, '[role="img"][aria-label*="Messages per second"]')
        assert chart.is_displayed()
        shot(d, "dashboard")
        devices.pop().close()
        wait_text(d, '[data-figure="connections"]', "2")
    finally:
        for c in devices:
            c.close()
