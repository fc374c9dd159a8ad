"""Authentication, origin and request-shape rules of the emulated v3 API (seed 000)."""

from __future__ import annotations

import re

import pytest
import requests

from airflow_provider_usageintel.api.endpoints import ENDPOINTS
from airflow_provider_usageintel.emulator import EmulatorServer
from airflow_provider_usageintel.emulator.pytest_plugin import make_config
from airflow_provider_usageintel.emulator.usage_intelligence import HANDLERS, handler

PID = "1234567890"
ORIGIN = "https://analytics.revenera.com"
NOT_AUTHENTICATED = {"status": "AUTH ERROR", "reason": "Not authenticated"}


@pytest.fixture(scope="module")
def shared():
    """One server for the tests here that neither move its clock nor queue faults."""
    with EmulatorServer(make_config()) as server:
        yield server


def browser(server, origin=ORIGIN) -> requests.Session:
    session = requests.Session()
    if origin is not None:
        session.headers["Origin"] = origin
    return session


def login(server, session: requests.Session | None = None) -> requests.Session:
    session = session or browser(server)
    assert session.get(f"{server.url}/v3/request-csrf", timeout=10).status_code == 204
    credentials = {"userName": server.config.user, "password": server.config.password}
    response = session.post(f"{server.url}/v3/auth/web", json=credentials, timeout=10)
    assert response.status_code == 200, response.text
    return session


def list_files(server, session: requests.Session) -> requests.Response:
    return session.get(f"{server.url}/v3/customEventTracking/listFiles/{PID}", timeout=10)


def test_login_happy_path(usageintel_emulator):
    server = usageintel_emulator
    session = browser(server)
    csrf = session.get(f"{server.url}/v3/request-csrf", timeout=10)
    assert csrf.status_code == 204
    assert re.fullmatch(r"RUI-Csrf=[A-Za-z0-9_-]{20,}; Path=/; HttpOnly", csrf.headers["set-cookie"])
    answer = session.post(
        f"{server.url}/v3/auth/web",
        json={"userName": "demo@example.com", "password": "demo-password"},
        headers={"RUI-Client": "tests", "RUI-Client-Version": "0.0.1"},
        timeout=10,
    )
    assert answer.status_code == 200
    body = answer.json()
    assert set(body) == {
        "account",
        "freeware",
        "products",
        "userSettings",
        "currentProductDetails",
        "beatInterval",
    }
    assert body["beatInterval"] == 302
    assert list(body["products"]) == [PID]
    assert set(session.cookies.keys()) == {"RUI-Csrf", "RUI-Session-Token"}
    assert session.cookies["RUI-Csrf"] != csrf.cookies["RUI-Csrf"], "the session gets its own CSRF token"
    assert list_files(server, session).status_code == 200


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v3/request-csrf"),
        ("POST", "/v3/auth/web"),
        ("GET", f"/v3/customEventTracking/listFiles/{PID}"),
    ],
)
@pytest.mark.parametrize("origin", [None, "https://evil.example.com", "http://analytics.revenera.com"])
def test_missing_or_wrong_origin_is_refused(shared, method, path, origin):
    session = login(shared)
    if origin is None:
        del session.headers["Origin"]
    else:
        session.headers["Origin"] = origin
    response = session.request(method, shared.url + path, json={}, timeout=10)
    assert response.status_code == 403
    assert response.json() == {"status": "AUTH ERROR", "reason": "Origin not allowed"}


def test_origin_is_configurable(usageintel_emulator_factory):
    server = usageintel_emulator_factory(origin="https://example.test")
    session = login(server, browser(server, origin="https://example.test"))
    assert list_files(server, session).status_code == 200
    assert browser(server).get(f"{server.url}/v3/request-csrf", timeout=10).status_code == 403


def test_login_without_csrf_cookie_is_cookie_missing_and_a_retry_succeeds(shared):
    server = shared
    session = browser(server)
    credentials = {"userName": server.config.user, "password": server.config.password}
    first = session.post(f"{server.url}/v3/auth/web", json=credentials, timeout=10)
    assert first.status_code == 400
    assert first.json()["reason"] == "Cookie Missing"
    assert "RUI-Session-Token" not in session.cookies
    retry = session.post(f"{server.url}/v3/auth/web", json=credentials, timeout=10)
    assert retry.status_code == 200, "the refusal set a CSRF cookie, as the vendor documents"


def test_login_with_a_forged_csrf_cookie_is_cookie_missing(shared):
    session = browser(shared)
    session.cookies.set("RUI-Csrf", "forged")
    response = session.post(
        f"{shared.url}/v3/auth/web", json={"userName": "demo@example.com", "password": "x"}, timeout=10
    )
    assert (response.status_code, response.json()["reason"]) == (400, "Cookie Missing")


@pytest.mark.parametrize(
    "credentials",
    [
        {"userName": "demo@example.com", "password": "wrong"},
        {"userName": "someone@example.com", "password": "demo-password"},
    ],
)
def test_wrong_credentials_are_refused(shared, credentials):
    session = browser(shared)
    session.get(f"{shared.url}/v3/request-csrf", timeout=10)
    response = session.post(f"{shared.url}/v3/auth/web", json=credentials, timeout=10)
    assert response.status_code == 401
    assert response.json()["status"] == "AUTH ERROR"
    assert "RUI-Session-Token" not in session.cookies


def test_login_body_must_be_json_with_both_fields(shared):
    url = f"{shared.url}/v3/auth/web"
    session = browser(shared)
    session.get(f"{shared.url}/v3/request-csrf", timeout=10)
    form = session.post(url, data="userName=a&password=b", timeout=10)
    assert form.status_code == 415
    assert form.json() == {"status": "SYNTAX ERROR", "reason": "Content-Type must be application/json"}
    broken = session.post(url, data="{not json", headers={"Content-Type": "application/json"}, timeout=10)
    assert broken.status_code == 400
    assert broken.json()["status"] == "SYNTAX ERROR"
    assert broken.json()["reason"].startswith("Invalid JSON body: ")
    partial = session.post(url, json={"userName": "demo@example.com"}, timeout=10)
    assert partial.status_code == 400


def test_calls_without_a_session_are_refused(shared):
    session = browser(shared)
    session.get(f"{shared.url}/v3/request-csrf", timeout=10)
    response = list_files(shared, session)
    assert response.status_code == 401
    assert response.json() == NOT_AUTHENTICATED


@pytest.mark.parametrize("cookie", ["RUI-Csrf", "RUI-Session-Token"])
def test_both_cookies_must_match_the_session(shared, cookie):
    session = login(shared)
    session.cookies.set(cookie, "tampered")
    assert list_files(shared, session).status_code == 401


def test_missing_csrf_cookie_is_refused(shared):
    session = login(shared)
    token = session.cookies["RUI-Session-Token"]
    bare = browser(shared)
    bare.cookies.set("RUI-Session-Token", token)
    assert list_files(shared, bare).json() == NOT_AUTHENTICATED


def test_logout_invalidates_the_session_and_clears_cookies(usageintel_emulator):
    server = usageintel_emulator
    session = login(server)
    saved = session.cookies.get_dict()
    response = session.post(f"{server.url}/v3/auth/logout", json={}, timeout=10)
    assert response.status_code == 204
    assert "Max-Age=0" in response.headers["set-cookie"]
    assert session.cookies.get_dict() == {}
    replay = browser(server)
    for name, value in saved.items():
        replay.cookies.set(name, value)
    assert list_files(server, replay).json() == NOT_AUTHENTICATED
    assert list_files(server, login(server)).status_code == 200, "a new login works"


def test_logout_all_sessions_ends_every_session_of_the_user(usageintel_emulator):
    server = usageintel_emulator
    first, second, third = login(server), login(server), login(server)
    assert second.post(f"{server.url}/v3/auth/logout", json={}, timeout=10).status_code == 204
    assert list_files(server, first).status_code == 200, "a plain logout ends only its own session"
    response = first.post(f"{server.url}/v3/auth/logout", json={"allSessions": True}, timeout=10)
    assert response.status_code == 204
    assert list_files(server, third).json() == NOT_AUTHENTICATED
    assert server.context.sessions.active_count() == 0
    assert server.control.sessions() == {"logins": 3, "logouts": 3, "open": 0}


def test_session_counts_say_how_many_logins_were_never_ended(usageintel_emulator):
    server = usageintel_emulator
    kept, ended = login(server), login(server)
    assert ended.post(f"{server.url}/v3/auth/logout", json={}, timeout=10).status_code == 204
    assert server.control.sessions() == {"logins": 2, "logouts": 1, "open": 1}
    server.control.reset()
    assert server.control.sessions() == {"logins": 0, "logouts": 0, "open": 1}
    assert kept.post(f"{server.url}/v3/auth/logout", json={}, timeout=10).status_code == 204
    assert server.control.sessions() == {"logins": 0, "logouts": 1, "open": 0}


def test_logout_needs_a_session_and_a_boolean(usageintel_emulator):
    server = usageintel_emulator
    anonymous = browser(server)
    assert anonymous.post(f"{server.url}/v3/auth/logout", json={}, timeout=10).status_code == 401
    session = login(server)
    response = session.post(f"{server.url}/v3/auth/logout", json={"allSessions": "yes"}, timeout=10)
    assert response.status_code == 400
    assert list_files(server, session).status_code == 200


def test_idle_sessions_expire(usageintel_emulator_factory):
    server = usageintel_emulator_factory(session_idle_seconds=0)
    session = login(server)
    assert list_files(server, session).json() == NOT_AUTHENTICATED


def test_product_id_must_be_numeric_and_known(shared):
    session = login(shared)
    base = f"{shared.url}/v3/customEventTracking/listFiles"
    not_numeric = session.get(f"{base}/abc", timeout=10)
    assert not_numeric.status_code == 422
    assert not_numeric.json()["status"] == "SYNTAX ERROR"
    unknown = session.get(f"{base}/999", timeout=10)
    assert unknown.status_code == 404
    assert unknown.json() == {"status": "ERROR", "reason": "Product 999 not found"}


def test_every_table_endpoint_is_routed_and_guarded(shared):
    session = browser(shared)
    for endpoint in ENDPOINTS:
        if not endpoint.auth:
            continue
        response = session.request(endpoint.method, shared.url + endpoint.url_path(PID), json={}, timeout=10)
        assert response.status_code == 401, endpoint.name


def test_every_table_endpoint_has_a_handler():
    assert sorted(e.name for e in ENDPOINTS if e.name not in HANDLERS) == []


def test_handlers_register_only_table_names():
    with pytest.raises(ValueError, match="not an endpoint"):
        handler("no_such_endpoint")


def test_unknown_paths_use_the_error_envelope(shared):
    response = requests.get(f"{shared.url}/v3/nothing-here", timeout=10)
    assert response.status_code == 404
    assert response.json() == {"status": "ERROR", "reason": "Not Found"}


@pytest.mark.parametrize("path", ["/v3/meta/productProperties", "/v3/meta/productProperties/1234567890"])
def test_product_properties_cover_every_filter_kind(shared, path):
    """Seed 000 line 132 (bare path) and reveneraR's path with the product id, one shape:
    result[] of {category, properties[{name, friendlyName, filterType, dataType, supportsRegex,
    supportsMeta, supportsNull}]}."""
    session = login(shared)
    response = session.get(f"{shared.url}{path}", timeout=10)
    assert response.status_code == 200
    categories = response.json()["result"]
    assert all(set(category) == {"category", "properties"} for category in categories)
    by_name = {p["name"]: p for category in categories for p in category["properties"]}
    fields = {
        "name",
        "friendlyName",
        "filterType",
        "dataType",
        "supportsRegex",
        "supportsMeta",
        "supportsNull",
    }
    assert all(set(p) == fields for p in by_name.values())
    assert by_name["prodVersion"]["filterType"] == "string" and by_name["prodVersion"]["supportsRegex"]
    assert by_name["ram"]["dataType"] == "number" and not by_name["ram"]["supportsRegex"]
    assert by_name["dateInstalled"]["filterType"] == "date"
    # seed 001 line 153: no regular expressions in geography filters; os and gpu take them
    assert not by_name["geography"]["supportsRegex"]
    assert by_name["os"]["supportsRegex"] and by_name["gpu"]["supportsRegex"]


def test_product_properties_of_an_unknown_product_are_not_found(shared):
    response = login(shared).get(f"{shared.url}/v3/meta/productProperties/999", timeout=10)
    assert response.status_code == 404
