"""End-to-end tests of Docket's web client in Debian's Chromium, driven by Playwright.

Run by `tests/web/main.rs` (so by `cargo test`), which starts two real servers and passes:
    e2e.py OPEN_URL CLOSED_URL OUT_DIR AXE_JS
OPEN_URL accepts sign-ups, CLOSED_URL has registration closed. Screenshots go to
OUT_DIR/screenshots, the measured budgets and axe results to OUT_DIR/web-report.json.
Every wait is on a condition, never a fixed sleep.
"""

import concurrent.futures
import datetime
import json
import os
import random
import re
import sys
import time
import traceback
import urllib.request
import urllib.error
from urllib.parse import urlparse

import pyotp
from playwright.sync_api import sync_playwright, expect

OPEN, CLOSED, OUT, AXE = sys.argv[1:5]
# Parts of test names, comma-separated: only the tests whose name holds one of them run.
ONLY = [part for part in os.environ.get("DOCKET_WEB_ONLY", "").split(",") if part]
# A server with a single sign-on provider ("Acme SSO", a real node-oidc-provider at PROVIDER)
# on a localhost public URL, and one under DOCKET_REQUIRE_2FA=all (tests/web/main.rs).
SSO = os.environ["DOCKET_E2E_SSO"]
PROVIDER = os.environ["DOCKET_E2E_PROVIDER"]
STRICT = os.environ["DOCKET_E2E_STRICT"]
# The messages the open server's SMTP server accepted, one JSON object a line (tests/web/main.rs).
MAIL = os.environ["DOCKET_E2E_MAIL"]
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
PASSWORD = "correct horse battery staple"
SHOTS = os.path.join(OUT, "screenshots")
os.makedirs(SHOTS, exist_ok=True)
expect.set_options(timeout=10_000)

REPORT = {"budgets": {}, "axe": {}, "tests": {}}


# --- the API, for setting up (not what is under test) -------------------------------------

def ip():
    return "10.%d.%d.%d" % (random.randrange(256), random.randrange(256), random.randrange(256))


def api(method, path, token=None, body=None, base=OPEN, headers=None, expect_status=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(base + "/api/v1" + path, data=data, method=method)
    req.add_header("x-forwarded-for", ip())
    if data is not None:
        req.add_header("content-type", "application/json")
    if token:
        req.add_header("authorization", "Bearer " + token)
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    try:
        with urllib.request.urlopen(req) as resp:
            status, text = resp.status, resp.read().decode()
    except urllib.error.HTTPError as e:
        status, text = e.code, e.read().decode()
    if expect_status is not None:
        assert status == expect_status, f"{method} {path}: {status} {text[:300]}"
    return json.loads(text) if text else None


def user(name, base=OPEN):
    email = f"{name.lower()}-{random.randrange(10**9)}@example.com"
    api("POST", "/auth/register", body={"email": email, "password": PASSWORD, "name": name}, base=base, expect_status=201)
    token = api("POST", "/auth/token", body={"grant_type": "password", "email": email, "password": PASSWORD}, base=base)["access_token"]
    me = api("GET", "/me", token, base=base)
    return {"email": email, "token": token, "id": me["id"], "name": name}


def project(owner, name):
    return api("POST", "/projects", owner["token"], {"name": name}, expect_status=201)


def task(owner, project_id, **fields):
    return api("POST", f"/projects/{project_id}/tasks", owner["token"], fields, expect_status=201)


def eventually(condition, timeout=10):
    """Polls a condition of the server's state (the UI answers before the server does)."""
    deadline = time.time() + timeout
    while not condition():
        assert time.time() < deadline, "condition not met in time"
        time.sleep(0.05)


def upload(owner, task_id, name, data, content_type="application/octet-stream", comment_id=None):
    """Uploads raw bytes as an attachment (API.md §20)."""
    from urllib.parse import urlencode
    query = {"name": name}
    if comment_id:
        query["comment_id"] = comment_id
    req = urllib.request.Request(f"{OPEN}/api/v1/tasks/{task_id}/attachments?{urlencode(query)}", data=data, method="POST")
    req.add_header("x-forwarded-for", ip())
    req.add_header("content-type", content_type)
    req.add_header("authorization", "Bearer " + owner["token"])
    with urllib.request.urlopen(req) as resp:
        assert resp.status == 201, resp.status
        return json.loads(resp.read().decode())


def png_bytes(width, height, rgb=(40, 120, 200)):
    """A real PNG of one colour, made with the standard library."""
    import struct
    import zlib

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    row = b"\x00" + bytes(rgb) * width
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(row * height)) + chunk(b"IEND", b""))


def mail_to(address, timeout=20):
    """The newest email to `address` the open server sent through the test SMTP server."""
    found = []

    def arrived():
        try:
            with open(MAIL) as log:
                found[:] = [m for m in map(json.loads, log) if address in m["to"]]
        except FileNotFoundError:
            pass
        return bool(found)
    eventually(arrived, timeout)
    return found[-1]


def link_in(mail, path):
    """The path and query of the link to `path` in an email (its host is the public URL's)."""
    url = urlparse(re.search(r"https?://\S+" + re.escape(path) + r"\?token=[\w-]+", mail["text"]).group(0))
    return f"{url.path}?{url.query}"


def member(owner, project_id, other, role):
    api("POST", f"/projects/{project_id}/members", owner["token"], {"email": other["email"], "role": role}, expect_status=201)


# --- the browser ------------------------------------------------------------------------

CSP_PROBE = """
window.__csp = [];
document.addEventListener('securitypolicyviolation', e => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));
new MutationObserver(() => {
  if (!window.__firstRow && document.querySelector('#task-list .row')) window.__firstRow = performance.now();
}).observe(document, {subtree: true, childList: true});
"""


class Browser:
    def __init__(self, pw):
        self.browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        self.foreign = []
        self.errors = []

    def context(self, who=None, width=1280, scheme="light", base=OPEN):
        ctx = self.browser.new_context(viewport={"width": width, "height": 800}, color_scheme=scheme, base_url=base)
        ctx.add_init_script(CSP_PROBE)
        origin = urlparse(base).netloc

        def on_request(request):
            u = urlparse(request.url)
            # The single sign-on provider is the one other site a sign-in may visit.
            if u.scheme in ("http", "https", "ws", "wss") and u.netloc not in (origin, urlparse(PROVIDER).netloc):
                self.foreign.append(request.url)
        ctx.on("request", on_request)
        if who:
            r = ctx.request.post(base + "/api/v1/auth/session", data={"email": who["email"], "password": PASSWORD},
                                 headers={"x-forwarded-for": ip()})
            assert r.ok, r.text()
        return ctx

    def page(self, who=None, **kw):
        page = self.context(who, **kw).new_page()
        page.on("pageerror", lambda e: self.errors.append(str(e)))
        page.on("console", lambda m: m.type == "error" and "the server responded with a status" not in m.text and self.errors.append(m.text))
        return page


AXE_SOURCE = open(AXE).read()


def axe(page, screen):
    """Runs axe-core on the page; records its violations and fails on any."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.evaluate(AXE_SOURCE + "\n;0")
    result = page.evaluate("""async () => {
        const r = await axe.run(document, {resultTypes: ['violations']});
        return r.violations.map(v => ({id: v.id, impact: v.impact, nodes: v.nodes.length,
          targets: v.nodes.slice(0, 3).map(n => n.target.join(' '))}));
    }""")
    serious = [v for v in result if v["impact"] in ("serious", "critical")]
    REPORT["axe"][screen] = {"violations": len(result), "serious_or_critical": len(serious),
                             "ids": sorted({v["id"] + ":" + (v["impact"] or "") for v in result})}
    assert not result, f"axe on {screen}: {result}"


def shoot(page, name, widths=(1280, 375), schemes=("light", "dark")):
    """Screenshots at both widths and both colour schemes, and axe in each combination."""
    size = page.viewport_size
    for scheme in schemes:
        page.emulate_media(color_scheme=scheme)
        for width in widths:
            page.set_viewport_size({"width": width, "height": 800})
            page.wait_for_function("() => document.fonts.status === 'loaded'")
            page.screenshot(path=os.path.join(SHOTS, f"{name}-{width}-{scheme}.png"))
            axe(page, f"{name} {width}px {scheme}")
    page.emulate_media(color_scheme="light")
    page.set_viewport_size(size)


def no_live(page):
    """The live event stream refuses this page (503), as when a proxy stands in the way."""
    page.route(re.compile(r".*/api/v1/events(\?.*)?$"), lambda route: route.fulfill(status=503, body=""))


def csp_clean(page, allow=()):
    violations = [v for v in page.evaluate("window.__csp || []") if v not in allow]
    assert not violations, f"CSP violations: {violations}"


# --- the tests ------------------------------------------------------------------------------

TESTS = []


def test(fn):
    TESTS.append(fn)
    return fn


@test
def docs_render_from_local_assets(b, env):
    page = b.page()
    before = len(b.foreign)
    page.goto("/docs")
    expect(page.get_by_text("/api/v1/admin/users").first).to_be_visible(timeout=20_000)
    page.get_by_role("button", name="Open Group - tasks").first.click()
    expect(page.get_by_text("/api/v1/tasks/{id}/move").first).to_be_attached()
    assert len(b.foreign) == before, f"requests to other origins: {b.foreign[before:]}"
    # The bundled Zod probes once whether `Function("")` works (in a try/catch) and, refused by
    # the CSP, validates without generated code: a refused probe, not a missing feature.
    csp_clean(page, allow=("script-src eval",))
    page.screenshot(path=os.path.join(SHOTS, "docs-1280-light.png"))
    # The reference is Scalar's markup, not ours: its axe results are reported, not enforced.
    try:
        axe(page, "docs (Scalar, reported only)")
    except AssertionError as e:
        print(f"  note: {str(e)[:300]}", flush=True)
    page.context.close()


@test
def sign_up_sign_out_sign_in(b, env):
    page = b.page()
    page.goto("/")
    expect(page).to_have_url(OPEN + "/signin")
    shoot(page, "signin")
    page.get_by_role("link", name="Create an account").click()
    expect(page.get_by_role("heading", name="Create your account")).to_be_visible()
    email = f"new-{random.randrange(10**9)}@example.com"
    page.get_by_label("Name").fill("Nora New")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill("short")
    page.get_by_role("button", name="Create account").click()
    # The server's field error appears under its field.
    expect(page.locator("#auth-password-error")).to_contain_text("10")
    expect(page.get_by_label("Password")).to_have_attribute("aria-invalid", "true")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_role("heading", name="Inbox", level=1)).to_be_visible()
    expect(page.locator(".empty")).to_contain_text("Add your first task")
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(OPEN + "/signin")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill("wrong password here")
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page.locator("#auth-error")).to_contain_text("do not match")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page.get_by_role("heading", name="Inbox", level=1)).to_be_visible()
    csp_clean(page)
    page.context.close()


@test
def registration_closed_shows_no_sign_up(b, env):
    page = b.page(base=CLOSED)
    page.goto(CLOSED + "/signup")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    expect(page.get_by_text("Sign-up is closed")).to_be_visible()
    expect(page.get_by_role("link", name="Create an account")).to_have_count(0)
    expect(page.get_by_label("Name")).to_have_count(0)
    page.context.close()


@test
def too_many_attempts_say_how_long_to_wait(b, env):
    victim = user("Rita")
    for _ in range(10):
        api("POST", "/auth/session", body={"email": victim["email"], "password": "not the password"},
            headers={"x-forwarded-for": "127.0.0.1"})
    page = b.page()
    page.goto("/signin")
    page.get_by_label("Email").fill(victim["email"])
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page.locator("#auth-error")).to_contain_text("Try again in")
    page.context.close()


@test
def session_expiry_returns_to_where_you_were(b, env):
    ada = env["ada"]
    page = b.page(ada)
    page.goto(f"/p/{env['launch']['id']}?label=ops")
    expect(page.locator("#task-list .row").first).to_be_visible()
    page.context.clear_cookies()
    page.get_by_role("link", name="Upcoming").click()
    expect(page).to_have_url(OPEN + "/signin?next=%2Fupcoming")
    expect(page.get_by_text("session ended")).to_be_visible()
    page.get_by_label("Email").fill(ada["email"])
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page).to_have_url(OPEN + "/upcoming")
    page.context.close()


@test
def sidebar_and_project_crud(b, env):
    ada = env["ada"]
    page = b.page(ada)
    page.goto("/")
    nav = page.get_by_role("navigation", name="Views")
    for name in ("Inbox", "My tasks", "Upcoming"):
        expect(nav.get_by_role("link", name=name)).to_be_visible()
    page.get_by_role("button", name="New project").click()
    page.get_by_label("Name").fill("Garden")
    page.get_by_role("button", name="Create project").click()
    expect(page.get_by_role("heading", name="Garden", level=1)).to_be_visible()
    expect(page.get_by_role("navigation", name="Projects").get_by_role("link", name="Garden")).to_have_attribute("aria-current", "page")
    page.get_by_role("navigation", name="Project views").get_by_role("link", name="Settings").click()
    page.locator("#project-form-name").fill("Garden plans")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_role("navigation", name="Projects").get_by_role("link", name="Garden plans")).to_be_visible()
    page.get_by_role("button", name="Delete project").click()
    page.get_by_role("dialog").get_by_role("button", name="Delete project").click()
    expect(page.get_by_role("heading", name="Inbox", level=1)).to_be_visible()
    expect(page.get_by_role("navigation", name="Projects").get_by_role("link", name="Garden plans")).to_have_count(0)
    page.context.close()


@test
def list_view_filters_sort_url_and_quick_add(b, env):
    ada, launch = env["ada"], env["launch"]
    page = b.page(ada)
    page.goto(f"/p/{launch['id']}")
    rows = page.locator("#task-list .row")
    expect(rows.first).to_be_visible()
    # Quick add: one line, chips first.
    page.keyboard.press("c")
    expect(page.locator("#quick-add")).to_be_focused()
    page.keyboard.type("Ship the release tomorrow !3 #release @me")
    chips = page.locator("#quick-add-chips")
    expect(chips).to_contain_text("Priority: High")
    expect(chips).to_contain_text("#release")
    expect(chips).to_contain_text("Assignee: me")
    expect(chips).to_contain_text("Tomorrow")
    page.keyboard.press("Enter")
    expect(rows.filter(has_text="Ship the release")).to_have_count(1)
    created = api("GET", f"/projects/{launch['id']}/tasks?q=ship+release", ada["token"])["items"][0]
    tomorrow = (datetime.date.today() + datetime.timedelta(days=1)).isoformat()
    assert created["title"] == "Ship the release" and created["priority"] == 3, created
    assert created["labels"] == ["release"] and created["assignee_id"] == ada["id"], created
    assert created["due_date"] == tomorrow, created
    page.locator("#quick-add").fill("Plan the party 2026-12-24 #fun")
    page.keyboard.press("Enter")
    expect(rows.filter(has_text="Plan the party")).to_have_count(1)
    # The exact count follows what was added (done tasks, hidden, are counted apart).
    expect(page.locator("#list-count")).to_have_text(f"{rows.count()} open")
    shoot(page, "list")
    # A filter goes into the URL; the URL reproduces the view; back and forward work.
    page.locator("summary", has_text="Filters").click()
    page.locator("#filter-label").fill("ops")
    page.locator("#filter-label").press("Enter")
    expect(page).to_have_url(f"{OPEN}/p/{launch['id']}?label=ops")
    expect(rows).to_have_count(3)
    page.locator("#filter-sort").select_option("-priority")
    expect(page).to_have_url(f"{OPEN}/p/{launch['id']}?label=ops&sort=-priority")
    expect(rows.first).to_contain_text("Deploy the app")
    page.go_back()
    expect(page).to_have_url(f"{OPEN}/p/{launch['id']}?label=ops")
    page.go_back()
    expect(page).to_have_url(f"{OPEN}/p/{launch['id']}")
    page.go_forward()
    expect(rows).to_have_count(3)
    other = b.page(ada)
    other.goto(f"/p/{launch['id']}?status=done&assignee=none&priority_min=1&due_after=2026-01-01&due_before=2027-12-31&sort=due_date")
    expect(other.locator("#task-list .row")).to_have_count(1)
    expect(other.locator("#task-list .row")).to_contain_text("Write the changelog")
    expect(other.locator("#filter-status")).to_have_value("done")
    other.context.close()
    # Search (q) with stemming, from the / shortcut.
    page.goto(f"/p/{launch['id']}")
    expect(rows.first).to_be_visible()
    page.keyboard.press("/")
    expect(page.locator("#search")).to_be_focused()
    page.keyboard.type("deploying")
    expect(page).to_have_url(f"{OPEN}/p/{launch['id']}?q=deploying")
    expect(rows).to_have_count(1)
    # Keyset paging: the long project loads more as it scrolls.
    page.goto(f"/p/{env['big']['id']}?sort=created_at")
    expect(rows).to_have_count(50)
    rows.nth(49).scroll_into_view_if_needed()
    page.locator(".sentinel").scroll_into_view_if_needed()
    expect(rows).to_have_count(100)
    page.context.close()


@test
def budgets_first_visit_and_first_page(b, env):
    ada, big = env["ada"], env["big"]
    ctx = b.context(ada)
    page = ctx.new_page()
    page.goto(f"/p/{big['id']}")
    expect(page.locator("#task-list .row").first).to_be_visible()
    page.wait_for_load_state("networkidle")
    entries = page.evaluate("""() => {
        const nav = performance.getEntriesByType('navigation')[0];
        const res = performance.getEntriesByType('resource');
        return {nav: nav.transferSize, resources: res.map(r => [r.name, r.transferSize, r.encodedBodySize]),
                firstRow: window.__firstRow, domContentLoaded: nav.domContentLoadedEventEnd};
    }""")
    total = entries["nav"] + sum(r[1] for r in entries["resources"])
    REPORT["budgets"]["first_visit_transfer_kib"] = round(total / 1024, 1)
    REPORT["budgets"]["first_visit_requests"] = 1 + len(entries["resources"])
    REPORT["budgets"]["first_row_after_page_load_start_ms"] = round(entries["firstRow"], 1)
    assert total <= 150 * 1024, f"first visit transferred {total} bytes: {entries}"
    # In-app navigation to the 1,000-task project: time until its first page shows.
    timings = []
    for _ in range(5):
        page.goto("/settings")
        expect(page.locator("#profile")).to_be_visible()
        ms = page.evaluate("""(id) => new Promise(resolve => {
            const link = [...document.querySelectorAll('.projects-nav a')].find(a => a.getAttribute('href') === '/p/' + id);
            const t0 = performance.now();
            link.click();
            const check = () => document.querySelector('#task-list .row') ? resolve(performance.now() - t0) : requestAnimationFrame(check);
            check();
        })""", big["id"])
        timings.append(ms)
    timings.sort()
    REPORT["budgets"]["first_page_1000_tasks_ms_median"] = round(timings[len(timings) // 2], 1)
    REPORT["budgets"]["first_page_1000_tasks_ms_max"] = round(timings[-1], 1)
    assert timings[len(timings) // 2] <= 300, timings
    # On the board each column pages by itself.
    page.goto(f"/p/{big['id']}/board")
    todo = page.locator(".cards[data-status=todo] .card")
    expect(todo).to_have_count(50)
    # The header counts every card of the column, not the page loaded.
    expect(page.locator(".column[data-status=todo] .count")).to_have_text("1,000")
    page.locator(".column[data-status=todo] .load-more").scroll_into_view_if_needed()
    expect(todo).to_have_count(100)
    expect(page.locator(".cards[data-status=done] .card")).to_have_count(0)
    ctx.close()


@test
def task_detail_autosaves_and_renders_markdown_safely(b, env):
    ada, launch = env["ada"], env["launch"]
    t = task(ada, launch["id"], title="Markdown check", description=(
        "# Heading\n\nSome **bold** and a [link](https://example.com).\n\n"
        "<script>window.__pwned = 1</script>\n\n<img src=x onerror=\"window.__pwned = 2\">\n\n"
        "[click me](javascript:window.__pwned=3) and [data](data:text/html,hi)\n\n- one\n- two\n"))
    page = b.page(ada)
    page.goto(f"/p/{launch['id']}?task={t['id']}")
    view = page.locator("#task-description-view")
    expect(view.locator("h3")).to_have_text("Heading")
    expect(view.locator("strong")).to_have_text("bold")
    expect(view.locator("a[href='https://example.com/']")).to_have_count(1)
    assert view.locator("script, img, iframe").count() == 0
    expect(view).to_contain_text("<script>window.__pwned = 1</script>")
    assert view.locator("a[href^='javascript'], a[href^='data']").count() == 0
    expect(view.get_by_text("click me")).to_be_visible()
    view.get_by_text("click me").click()
    assert page.evaluate("window.__pwned") is None
    csp_clean(page)
    # Edits save themselves.
    page.locator("#task-title").fill("Markdown check, renamed")
    expect(page.locator("#save-state")).to_have_text("Saved")
    page.locator("#task-priority").select_option("2")
    page.locator("#task-state_id").select_option(label="In progress")
    page.locator("#task-labels").fill("docs, Web")
    page.locator("#task-due_date").fill("2026-12-24")
    page.locator("#task-assignee_id").select_option(ada["id"])
    expect(page.locator("#save-state")).to_have_text("Saved")
    page.wait_for_function("""async (id) => {
        const t = await (await fetch('/api/v1/tasks/' + id)).json();
        return t.labels.join() === 'docs,web' && t.due_date === '2026-12-24' && t.assignee_id && t.priority === 2 && t.status === 'in_progress';
    }""", arg=t["id"])
    shoot(page, "detail")
    # Unsaved input is not lost on navigation away: the person is asked first.
    page.get_by_role("button", name="Edit", exact=True).click()
    asked = []
    page.once("dialog", lambda d: (asked.append(d.message), d.dismiss()))
    page.locator("#task-description").fill("A draft I am still typing")
    page.get_by_role("link", name="My tasks").click()
    assert asked and "unsaved" in asked[0].lower(), asked
    expect(page.locator("#task-description")).to_have_value("A draft I am still typing")
    expect(page.locator("#save-state")).to_have_text("Saved")
    page.keyboard.press("Escape")
    page.keyboard.press("Escape")
    expect(page.locator("#task-panel")).to_have_count(0)
    page.context.close()


@test
def two_browsers_editing_the_same_task_choose_a_version(b, env):
    ada, bob, launch = env["ada"], env["bob"], env["launch"]
    t = task(ada, launch["id"], title="Shared task", description="v1")
    a = b.page(ada)
    # Without live events (a proxy that buffers them, a dropped stream) Ada's page does not hear
    # of Bob's save: her next save must still be caught (412) and shown, never lost.
    no_live(a)
    other = b.page(bob)
    for p in (a, other):
        p.goto(f"/p/{launch['id']}?task={t['id']}")
        expect(p.locator("#task-title")).to_have_value("Shared task")
    other.locator("#task-title").fill("Bob's title")
    expect(other.locator("#save-state")).to_have_text("Saved")
    a.get_by_role("button", name="Edit", exact=True).click()
    a.locator("#task-description").fill("Ada's long description, typed with care")
    dialog = a.get_by_role("dialog")
    expect(dialog).to_contain_text("changed while you were editing")
    expect(dialog.locator("#conflict-compare")).to_contain_text("Ada's long description")
    expect(dialog.locator("#conflict-compare")).to_contain_text("Bob's title")
    axe(a, "conflict dialog")
    a.screenshot(path=os.path.join(SHOTS, "conflict-1280-light.png"))
    dialog.get_by_role("button", name="Keep my changes").click()
    expect(a.locator("#save-state")).to_have_text("Saved")
    final = api("GET", f"/tasks/{t['id']}", ada["token"])
    assert final["description"] == "Ada's long description, typed with care", final
    assert final["title"] == "Bob's title", final  # Bob's change to another field is kept too.
    # The other way: Bob edits again, Ada takes the saved version.
    other.reload()
    other.locator("#task-title").fill("Bob again")
    expect(other.locator("#save-state")).to_have_text("Saved")
    a.locator("#task-description").fill("Ada's second draft")
    a.get_by_role("dialog").get_by_role("button", name="Use the saved version").click()
    expect(a.locator("#task-title")).to_have_value("Bob again")
    assert api("GET", f"/tasks/{t['id']}", ada["token"])["description"] == "Ada's long description, typed with care"
    a.context.close()
    other.context.close()


def card_drag(page, card, target, below=None):
    """Drags `card` into the column `target`, above `below` (a card) or at its end."""
    box = card.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + 10)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] / 2 + 10, box["y"] + 20, steps=3)
    if below is not None:
        tb = below.bounding_box()
        x, y = tb["x"] + tb["width"] / 2, tb["y"] + 4
    else:
        tb = target.bounding_box()
        x, y = tb["x"] + tb["width"] / 2, tb["y"] + tb["height"] - 4
    page.mouse.move(x, y, steps=8)
    page.evaluate("""() => {
        window.__drop = {};
        document.addEventListener('pointerup', () => {
            const t0 = performance.now();
            window.__drop.t0 = t0;
            requestAnimationFrame(() => { window.__drop.frame = performance.now() - t0; });
            queueMicrotask(() => {});
        }, {capture: true, once: true});
        new MutationObserver((m, o) => { if (window.__drop.t0 && !window.__drop.dom) { window.__drop.dom = performance.now() - window.__drop.t0; o.disconnect(); } })
          .observe(document.querySelector('#board'), {subtree: true, childList: true});
    }""")
    page.mouse.up()
    page.wait_for_function("() => window.__drop.frame !== undefined")
    return page.evaluate("window.__drop")


@test
def board_drag_keyboard_and_refused_moves(b, env):
    ada, board_project = env["ada"], env["board"]
    pid = board_project["id"]
    page = b.page(ada)
    page.goto(f"/p/{pid}/board")
    expect(page.locator("#board")).to_have_attribute("data-ready", "true")
    todo = page.locator(".cards[data-status=todo]")
    doing = page.locator(".cards[data-status=in_progress]")
    expect(todo.locator(".card")).to_have_count(3)
    shoot(page, "board")
    first = todo.locator(".card", has_text="Card A")
    timing = card_drag(page, first, doing)
    REPORT["budgets"]["drag_dom_update_ms"] = round(timing["dom"], 2)
    REPORT["budgets"]["drag_next_frame_ms"] = round(timing["frame"], 2)
    assert timing["dom"] <= timing["frame"], timing  # moved before the next frame was painted
    expect(doing.locator(".card", has_text="Card A")).to_have_count(1)
    expect(page.locator("#task-panel")).to_have_count(0)  # the drop is not a click that opens it
    page.wait_for_function("""async (pid) => {
        const r = await (await fetch(`/api/v1/projects/${pid}/tasks?status=in_progress&sort=position`)).json();
        return r.items.map(t => t.title).join() === 'Card A';
    }""", arg=pid)
    # Within a column: C above B.
    card_drag(page, todo.locator(".card", has_text="Card C"), todo, below=todo.locator(".card", has_text="Card B"))
    page.wait_for_function("""async (pid) => {
        const r = await (await fetch(`/api/v1/projects/${pid}/tasks?status=todo&sort=position`)).json();
        return r.items.map(t => t.title).join() === 'Card C,Card B';
    }""", arg=pid)
    page.reload()
    expect(todo.locator(".card").first).to_contain_text("Card C")
    # Keyboard: Shift+→ moves the focused card to the next column, Shift+↓ down.
    card_b = todo.locator(".card", has_text="Card B")
    card_b.focus()
    page.keyboard.press("Shift+ArrowRight")
    expect(doing.locator(".card").first).to_contain_text("Card B")
    expect(doing.locator(".card", has_text="Card B")).to_be_focused()
    page.keyboard.press("Shift+ArrowDown")
    expect(doing.locator(".card").nth(1)).to_contain_text("Card B")
    page.wait_for_function("""async (pid) => {
        const r = await (await fetch(`/api/v1/projects/${pid}/tasks?status=in_progress&sort=position`)).json();
        return r.items.map(t => t.title).join() === 'Card A,Card B';
    }""", arg=pid)
    # A refused move (412: the task changed meanwhile) puts the card back with a message. Live
    # events would bring the change before the move: this page does without them.
    no_live(page)
    page.reload()
    expect(page.locator("#board")).to_have_attribute("data-ready", "true")
    card_c = api("GET", f"/projects/{pid}/tasks?q=card+c", ada["token"])["items"][0]
    api("PATCH", f"/tasks/{card_c['id']}", ada["token"], {"priority": 1}, expect_status=200)
    card_drag(page, todo.locator(".card", has_text="Card C"), page.locator(".cards[data-status=done]"))
    expect(page.locator(".toast-error")).to_contain_text("not saved")
    expect(todo.locator(".card", has_text="Card C")).to_have_count(1)
    assert api("GET", f"/tasks/{card_c['id']}", ada["token"])["status"] == "todo"
    # Enter opens the focused card.
    todo.locator(".card", has_text="Card C").focus()
    page.keyboard.press("Enter")
    expect(page.locator("#task-title")).to_have_value("Card C")
    page.context.close()


@test
def viewer_sees_no_edit_controls(b, env):
    vic, launch, board_project = env["vic"], env["launch"], env["board"]
    page = b.page(vic)
    page.goto(f"/p/{launch['id']}")
    expect(page.locator("#task-list .row").first).to_be_visible()
    expect(page.locator("#quick-add")).to_have_count(0)
    assert page.locator(".status-toggle:not([disabled])").count() == 0
    page.locator("#task-list .row-title").first.click()
    expect(page.locator("#read-only-notice")).to_be_visible()
    expect(page.locator("#task-title")).to_have_attribute("readonly", "")
    expect(page.locator("#task-state_id")).to_be_disabled()
    expect(page.locator("#delete-task")).to_have_count(0)
    expect(page.locator("#edit-description")).to_have_count(0)
    page.goto(f"/p/{board_project['id']}/board")
    expect(page.locator("#board")).to_have_attribute("data-ready", "true")
    expect(page.get_by_role("button", name="Add a task to To do")).to_have_count(0)
    page.goto(f"/p/{launch['id']}/members")
    expect(page.locator("#members")).to_be_visible()
    expect(page.locator("#members select")).to_have_count(0)
    expect(page.locator("#add-member")).to_have_count(0)
    expect(page.get_by_role("button", name="Remove")).to_have_count(0)
    expect(page.get_by_role("button", name="Leave project")).to_have_count(1)
    page.goto(f"/p/{launch['id']}/settings")
    expect(page.locator("#project-form")).to_have_count(0)
    expect(page.locator("#github-form")).to_have_count(0)
    page.context.close()


@test
def members_and_roles(b, env):
    ada = env["ada"]
    team = project(ada, "Team")
    carl, dana = user("Carl"), user("Dana")
    member(ada, team["id"], dana, "editor")
    page = b.page(ada)
    page.goto(f"/p/{team['id']}/members")
    # An email without an account is invited (API.md §14): pending until withdrawn.
    page.get_by_label("Email").fill("nobody-here@example.com")
    page.get_by_role("button", name="Add member").click()
    invited = page.locator("#invitations tr", has_text="nobody-here@example.com")
    expect(invited).to_contain_text("Editor")
    assert "/invite?token=" in mail_to("nobody-here@example.com")["text"]
    invited.get_by_role("button", name="Withdraw the invitation of nobody-here@example.com").click()
    page.get_by_role("dialog").get_by_role("button", name="Withdraw").click()
    expect(page.locator("#invitations")).to_have_count(0)
    page.get_by_label("Email").fill(carl["email"])
    page.locator("#member-role").select_option("viewer")
    page.get_by_role("button", name="Add member").click()
    row = page.locator(f"tr[data-user='{carl['id']}']")
    expect(row).to_contain_text("Carl")
    shoot(page, "members")
    row.get_by_label("Role of Carl").select_option("editor")
    expect(page.locator(f"tr[data-user='{carl['id']}'] select")).to_have_value("editor")
    eventually(lambda: any(m["role"] == "editor" for m in api("GET", f"/projects/{team['id']}/members", ada["token"])["items"] if m["user"]["id"] == carl["id"]))
    page.locator(f"tr[data-user='{carl['id']}']").get_by_role("button", name="Remove").click()
    page.get_by_role("dialog").get_by_role("button", name="Remove").click()
    expect(page.locator(f"tr[data-user='{carl['id']}']")).to_have_count(0)
    # Transfer ownership to Dana: Ada becomes admin and loses owner-only controls.
    page.get_by_label("Role of Dana").select_option("owner")
    page.get_by_role("dialog").get_by_role("button", name="Transfer ownership").click()
    expect(page.locator(f"tr[data-user='{dana['id']}']")).to_contain_text("Owner")
    expect(page.get_by_label("Role of Dana")).to_have_count(0)
    expect(page.get_by_role("navigation", name="Project views").get_by_role("link", name="Settings")).to_be_visible()
    page.goto(f"/p/{team['id']}/settings")
    expect(page.locator("#delete-project")).to_have_count(0)
    # A 403 from the server is explained, even when the page still shows a control: Dana
    # demotes Ada while Ada's members page is open.
    page.goto(f"/p/{team['id']}/members")
    fred = user("Fred")
    member(dana, team["id"], fred, "viewer")
    page.reload()
    expect(page.get_by_label("Role of Fred")).to_be_visible()
    api("PUT", f"/projects/{team['id']}/members/{ada['id']}", dana["token"], {"role": "editor"}, expect_status=200)
    page.get_by_label("Role of Fred").select_option("editor")
    expect(page.locator(".toast-error")).to_contain_text("not allowed")
    expect(page.get_by_label("Role of Fred")).to_have_count(0)
    # Leave.
    page.goto(f"/p/{team['id']}/members")
    page.get_by_role("button", name="Leave project").click()
    page.get_by_role("dialog").get_by_role("button", name="Leave project").click()
    expect(page.get_by_role("heading", name="Inbox", level=1)).to_be_visible()
    expect(page.get_by_role("navigation", name="Projects").get_by_role("link", name="Team")).to_have_count(0)
    page.context.close()


@test
def settings_tokens_password_github_and_admin(b, env):
    ada, launch = env["ada"], env["launch"]
    erin = user("Erin")
    page = b.page(erin)
    page.goto("/settings")
    page.locator("#profile-name").fill("Erin Example")
    page.get_by_role("button", name="Save name").click()
    expect(page.locator("#profile")).to_contain_text("Saved")
    assert api("GET", "/me", erin["token"])["name"] == "Erin Example"
    page.locator("#token-name").fill("backup script")
    page.locator("#token-days").fill("30")
    page.get_by_role("button", name="Create token").click()
    secret = page.locator("#new-token-value")
    expect(secret).to_be_visible()
    value = secret.input_value()
    assert value.startswith("dkt_"), value
    expect(page.locator("#copy-token")).to_be_visible()
    expect(page.locator("#token-list")).to_contain_text("backup script")
    assert api("GET", "/me", value)["email"] == erin["email"]
    shoot(page, "settings")
    page.get_by_role("button", name="Revoke backup script").click()
    page.get_by_role("dialog").get_by_role("button", name="Revoke").click()
    expect(page.locator("#token-list")).to_have_count(0)
    page.locator("#password-current_password").fill("not my password")
    page.locator("#password-new_password").fill("an even better passphrase")
    page.get_by_role("button", name="Change password").click()
    expect(page.locator("#password-current_password-error")).not_to_be_empty()
    page.locator("#password-current_password").fill(PASSWORD)
    page.get_by_role("button", name="Change password").click()
    expect(page.locator("#password")).to_contain_text("Password changed")
    page.context.close()
    # GitHub link of a project (the server's GitHub is unreachable here: the error is shown).
    page = b.page(ada)
    page.goto(f"/p/{launch['id']}/settings")
    page.locator("#github-form-repository").fill("octocat/hello-world")
    page.locator("#github-form-token").fill("ghp_not_a_real_token")
    page.get_by_role("button", name="Link repository").click()
    expect(page.locator("#github-link")).to_contain_text("octocat/hello-world")
    page.get_by_role("button", name="Sync now").click()
    expect(page.locator("#github-state")).to_be_visible()
    shoot(page, "project-settings", schemes=("light",))
    # Instance admin: the users, promote, disable.
    page.goto("/admin")
    row = page.locator(f"tr[data-user='{erin['id']}']")
    row.get_by_role("button", name="Make admin").click()
    expect(page.locator(f"tr[data-user='{erin['id']}']")).to_contain_text("Administrator")
    page.locator(f"tr[data-user='{erin['id']}']").get_by_role("button", name="Make user").click()
    page.locator(f"tr[data-user='{erin['id']}']").get_by_role("button", name="Disable").click()
    expect(page.locator(f"tr[data-user='{erin['id']}']")).to_contain_text("Disabled")
    shoot(page, "admin", schemes=("dark",))
    page.context.close()


@test
def keyboard_shortcuts(b, env):
    ada, launch = env["ada"], env["launch"]
    page = b.page(ada)
    page.goto(f"/p/{launch['id']}")
    expect(page.locator("#task-list .row").first).to_be_visible()
    page.keyboard.press("?")
    dialog = page.get_by_role("dialog", name="Keyboard shortcuts")
    expect(dialog).to_contain_text("New task")
    axe(page, "shortcuts dialog")
    page.keyboard.press("Escape")
    expect(dialog).to_have_count(0)
    page.keyboard.press("j")
    page.keyboard.press("j")
    page.keyboard.press("k")
    selected = page.locator("#task-list .row.selected")
    expect(selected).to_have_count(1)
    title = selected.locator(".row-title").inner_text()
    expect(selected.locator(".row-title")).to_be_focused()
    page.keyboard.press("Escape")  # nothing open: harmless
    page.locator("#task-list .row.selected .row-title").focus()
    page.keyboard.press("Enter")
    expect(page.locator("#task-panel")).to_be_visible()
    assert page.locator("#task-title").input_value() in title
    page.keyboard.press("Escape")
    expect(page.locator("#task-panel")).to_have_count(0)
    page.keyboard.press("c")
    expect(page.locator("#quick-add")).to_be_focused()
    page.context.close()


@test
def narrow_window_and_zoom(b, env):
    ada, launch = env["ada"], env["launch"]
    page = b.page(ada, width=375)
    page.goto(f"/p/{launch['id']}")
    expect(page.locator("#task-list .row").first).to_be_visible()
    expect(page.locator("#sidebar")).not_to_be_visible()
    page.get_by_role("button", name="Show navigation").click()
    expect(page.locator("#sidebar")).to_be_visible()
    page.get_by_role("link", name="My tasks").click()
    expect(page.get_by_role("heading", name="My tasks", level=1)).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    shoot(page, "my-tasks", widths=(375,))
    # 200% zoom of a 1280 px window is a 640 px layout viewport.
    page.set_viewport_size({"width": 640, "height": 400})
    page.goto(f"/p/{launch['id']}")
    expect(page.locator("#task-list .row").first).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    axe(page, "list at 200% zoom")
    page.context.close()


# --- working together: comments, activity, live updates, notifications ----------------------

def team_of_two(env, name):
    """A fresh project of Ada's with Bob as an editor, and one task in it."""
    ada, bob = env["ada"], env["bob"]
    p = project(ada, name)
    member(ada, p["id"], bob, "editor")
    return p


@test
def activity_tab_and_project_activity_in_sentences(b, env):
    ada, bob = env["ada"], env["bob"]
    p = team_of_two(env, "History")
    t = task(ada, p["id"], title="Write the history")
    api("PATCH", f"/tasks/{t['id']}", bob["token"], {"assignee_id": bob["id"], "priority": 3}, expect_status=200)
    api("PATCH", f"/tasks/{t['id']}", bob["token"], {"labels": ["history"]}, expect_status=200)
    page = b.page(ada)
    page.goto(f"/p/{p['id']}?task={t['id']}")
    page.locator("#task-state_id").select_option(label="In progress")
    expect(page.locator("#save-state")).to_have_text("Saved")
    page.get_by_role("tab", name="Activity").click()
    expect(page.get_by_role("tab", name="Activity")).to_have_attribute("aria-selected", "true")
    timeline = page.locator("#task-activity .timeline")
    # Newest first; one person's consecutive changes read as one sentence.
    expect(timeline.locator(".entry").first).to_contain_text("Ada moved this task to In progress")
    expect(timeline).to_contain_text("Bob set this task to High priority and took it, then labelled it history")
    expect(timeline.locator(".entry").last).to_contain_text("Ada created this task")
    # Arrow keys move between the tabs.
    page.get_by_role("tab", name="Activity").focus()
    page.keyboard.press("ArrowLeft")
    expect(page.get_by_role("tab", name="Comments")).to_be_focused()
    expect(page.locator("#task-comments")).to_be_visible()
    expect(page.locator("#task-activity")).to_be_hidden()
    page.keyboard.press("ArrowRight")
    expect(page.locator("#task-activity")).to_be_visible()
    shoot(page, "task-activity", widths=(1280,))
    # The project's page names the task by number and links it.
    page.get_by_role("navigation", name="Project views").get_by_role("link", name="Activity").click()
    feed = page.locator("#project-activity .timeline")
    expect(feed.locator(".entry").first).to_contain_text(f"Ada moved #{t['number']} to In progress")
    expect(feed).to_contain_text("Ada added Bob as editor")
    gone = task(ada, p["id"], title="Short-lived")
    api("DELETE", f"/tasks/{gone['id']}", ada["token"], expect_status=204)
    page.reload()
    expect(feed.locator(".entry").first).to_contain_text("Ada deleted “Short-lived”")
    feed.get_by_role("link", name="Write the history").first.click()
    expect(page.locator("#task-title")).to_have_value("Write the history")
    page.goto(f"/p/{p['id']}/activity")
    expect(feed.locator(".entry").first).to_be_visible()
    shoot(page, "project-activity")
    csp_clean(page)
    page.context.close()


@test
def comments_add_edit_delete_with_mention_completion(b, env):
    ada, bob = env["ada"], env["bob"]
    p = team_of_two(env, "Talk")
    t = task(ada, p["id"], title="Discuss the plan")
    pa = b.page(ada)
    pa.goto(f"/p/{p['id']}?task={t['id']}")
    expect(pa.locator("#no-comments")).to_be_visible()
    body = pa.locator("#comment-body")
    body.press_sequentially("Can you check this, @bo")
    options = pa.get_by_role("listbox", name="People to mention").get_by_role("option")
    expect(options).to_have_count(1)
    expect(options.first).to_contain_text("Bob")
    expect(options.first).to_have_attribute("aria-selected", "true")
    expect(body).to_have_attribute("aria-activedescendant", options.first.get_attribute("id"))
    axe(pa, "mention completion")
    pa.keyboard.press("Enter")
    expect(body).to_have_value(f"Can you check this, @{bob['email']} ")
    expect(pa.get_by_role("listbox", name="People to mention")).to_be_hidden()
    body.press_sequentially("**today**? <img src=x onerror=\"window.__pwned=1\">")
    pa.keyboard.press("Control+Enter")
    comment = pa.locator("#comments .comment").first
    expect(comment.locator("strong", has_text="today")).to_have_count(1)
    expect(comment).to_contain_text("<img src=x")
    assert comment.locator("img").count() == 0
    expect(body).to_have_value("")
    expect(pa.get_by_role("tab", name="Comments (1)")).to_be_visible()
    saved = api("GET", f"/tasks/{t['id']}/comments", ada["token"])["items"]
    assert len(saved) == 1 and saved[0]["mentions"] == [bob["id"]], saved
    # The row shows the task's comment count.
    expect(pa.locator(f".row[data-id='{t['id']}'] .comment-count")).to_have_text("1")

    # Bob (an editor) may not edit or delete Ada's comment; he answers instead.
    pb = b.page(bob)
    pb.goto(f"/p/{p['id']}?task={t['id']}")
    theirs = pb.locator(f"#comment-{saved[0]['id']}")
    expect(theirs).to_contain_text("Can you check this")
    expect(theirs.locator(".edit-comment")).to_have_count(0)
    expect(theirs.locator(".delete-comment")).to_have_count(0)
    pb.locator("#comment-body").fill("On it.")
    pb.get_by_role("button", name="Comment", exact=True).click()
    expect(pb.locator("#comments .comment")).to_have_count(2)
    expect(pb.locator("#comments .comment").nth(1).locator(".edit-comment")).to_have_count(1)
    pb.context.close()

    # Ada edits her comment (If-Match) and deletes Bob's (she owns the project).
    pa.reload()
    expect(pa.locator("#comments .comment")).to_have_count(2)
    mine = pa.locator(f"#comment-{saved[0]['id']}")
    mine.locator(".edit-comment").click()
    edit = pa.locator(f"#comment-{saved[0]['id']} textarea")
    expect(edit).to_be_focused()
    edit.fill("Can you check this today?")
    pa.locator(f"#comment-{saved[0]['id']} .save-comment").click()
    expect(mine.locator(".comment-body")).to_have_text("Can you check this today?")
    expect(mine).to_contain_text("(edited)")
    assert api("GET", f"/comments/{saved[0]['id']}", ada["token"])["body"] == "Can you check this today?"
    shoot(pa, "comments")
    answer = pa.locator("#comments .comment").nth(1)
    answer.locator(".delete-comment").click()
    pa.get_by_role("dialog").get_by_role("button", name="Delete comment").click()
    expect(pa.locator("#comments .comment")).to_have_count(1)
    expect(pa.get_by_role("tab", name="Comments (1)")).to_be_visible()
    eventually(lambda: len(api("GET", f"/tasks/{t['id']}/comments", ada["token"])["items"]) == 1)
    # An edit that lost a race says so and keeps the text; saving again replaces.
    mine.locator(".edit-comment").click()
    api("PATCH", f"/comments/{saved[0]['id']}", ada["token"], {"body": "Changed elsewhere"}, expect_status=200)
    pa.locator(f"#comment-{saved[0]['id']} textarea").fill("My second thought")
    pa.locator(f"#comment-{saved[0]['id']} .save-comment").click()
    expect(pa.locator(f"#comment-{saved[0]['id']}-error")).to_contain_text("Changed elsewhere")
    expect(pa.locator(f"#comment-{saved[0]['id']} textarea")).to_have_value("My second thought")
    pa.locator(f"#comment-{saved[0]['id']} .save-comment").click()
    expect(mine.locator(".comment-body")).to_have_text("My second thought")
    assert api("GET", f"/comments/{saved[0]['id']}", ada["token"])["body"] == "My second thought"
    # A comment arriving live while Ada edits hers leaves her typing where she was.
    mine.locator(".edit-comment").click()
    edit = pa.locator(f"#comment-{saved[0]['id']} textarea")
    edit.fill("Typing while")
    api("POST", f"/tasks/{t['id']}/comments", bob["token"], {"body": "Meanwhile"}, expect_status=201)
    expect(pa.locator("#comments .comment")).to_have_count(2, timeout=10_000)
    expect(edit).to_be_focused()
    pa.keyboard.type(" others talk")
    expect(edit).to_have_value("Typing while others talk")
    pa.locator(f"#comment-{saved[0]['id']} .cancel-comment").click()
    expect(mine.locator(".comment-body")).to_have_text("My second thought")
    # A viewer reads the thread but has no composer.
    vic = env["vic"]
    member(ada, p["id"], vic, "viewer")
    pv = b.page(vic)
    pv.goto(f"/p/{p['id']}?task={t['id']}")
    expect(pv.locator("#comments .comment")).to_have_count(2)
    expect(pv.locator("#comment-readonly")).to_be_visible()
    expect(pv.locator("#comment-body")).to_have_count(0)
    assert pa.evaluate("window.__pwned") is None
    csp_clean(pa)
    pa.context.close()
    pv.context.close()


@test
def markdown_nested_ten_thousand_deep_renders_without_an_error(b, env):
    """Quotes, lists and emphasis nested 10,000 deep (API.md §9): the thread and the task panel
    render them (deeper than a few levels as text) and the page throws nothing."""
    ada, launch = env["ada"], env["launch"]
    description = ("> " * 5_000 + "deep description\n\n" + "- " * 2_000 + "deep list\n\n"
                   + "**_*" * 500 + "deep emphasis" + "*_**" * 500)
    assert len(description) <= 20_000
    t = task(ada, launch["id"], title="Deep markdown", description=description)
    bodies = [
        ">" * 10_000,
        "- " * 4_995 + "deep list",
        "_*" * 2_495 + "deep emphasis" + "*_" * 2_495,
        "[" * 9_000 + "unclosed",
        "after the deep ones",
    ]
    for body in bodies:
        assert len(body) <= 10_000
        api("POST", f"/tasks/{t['id']}/comments", ada["token"], {"body": body}, expect_status=201)
    page = b.page(ada)
    page.goto(f"/p/{launch['id']}?task={t['id']}")
    view = page.locator("#task-description-view")
    for text in ("deep description", "deep list", "deep emphasis"):
        expect(view).to_contain_text(text)
    comments = page.locator("#comments .comment")
    expect(comments).to_have_count(len(bodies))
    expect(comments.nth(0)).to_contain_text(">>>>>>>>>>")
    expect(comments.nth(1)).to_contain_text("deep list")
    expect(comments.nth(2)).to_contain_text("deep emphasis")
    expect(comments.nth(3)).to_contain_text("[[[[unclosed")
    expect(comments.nth(4)).to_contain_text("after the deep ones")
    # Deeper quotes became text: the DOM stays a few levels deep.
    deepest = page.evaluate("""() => Math.max(0, ...[...document.querySelectorAll('blockquote')].map(q => {
        let n = 0;
        for (let e = q; e; e = e.parentElement) if (e.tagName === 'BLOCKQUOTE') n++;
        return n;
    }))""")
    assert 1 <= deepest <= 8, deepest
    page.context.close()


@test
def a_mention_raises_the_other_users_bell(b, env):
    ada, bob = env["ada"], env["bob"]
    p = team_of_two(env, "Bells")
    t = task(ada, p["id"], title="Ring the bell")
    pb = b.page(bob)
    pb.goto(f"/p/{p['id']}")
    expect(pb.locator("#task-list .row").first).to_be_visible()
    before = len(api("GET", "/me/notifications?unread=true&limit=100", bob["token"])["items"])
    expect(pb.locator(".bell")).to_have_attribute("data-unread", str(before))
    pa = b.page(ada)
    pa.goto(f"/p/{p['id']}?task={t['id']}")
    pa.locator("#comment-body").fill(f"Please look, @{bob['email']}")
    pa.get_by_role("button", name="Comment", exact=True).click()
    expect(pa.locator("#comments .comment")).to_have_count(1)
    comment_id = api("GET", f"/tasks/{t['id']}/comments", ada["token"])["items"][0]["id"]
    # Bob's bell counts it without a reload (a live event, or at worst the 30 s timer).
    expect(pb.locator(".bell")).to_have_attribute("data-unread", str(before + 1), timeout=40_000)
    expect(pb.get_by_role("button", name=f"Notifications, {before + 1} unread")).to_be_visible()
    pb.locator("#bell").click()
    expect(pb.locator("#bell")).to_have_attribute("aria-expanded", "true")
    notes = pb.locator("#notifications .note")
    expect(notes.first).to_contain_text(f"Ada mentioned you on #{t['number']} Ring the bell")
    expect(notes.first).to_have_class("note unread")
    shoot(pb, "notifications", widths=(1280, 375))
    pb.keyboard.press("Escape")
    expect(pb.locator("#notifications-panel")).to_be_hidden()
    expect(pb.locator("#bell")).to_be_focused()
    # Choosing it opens the task and marks it read.
    pb.locator("#bell").click()
    notes.first.locator("a").click()
    expect(pb.locator("#task-title")).to_have_value("Ring the bell")
    expect(pb.locator(".bell")).to_have_attribute("data-unread", str(before))
    eventually(lambda: all(n.get("comment_id") != comment_id for n in api("GET", "/me/notifications?unread=true&limit=100", bob["token"])["items"]))
    # Mark all read empties the count.
    api("PATCH", f"/tasks/{t['id']}", ada["token"], {"assignee_id": bob["id"]}, expect_status=200)
    eventually(lambda: len(api("GET", "/me/notifications?unread=true&limit=100", bob["token"])["items"]) > 0)
    pb.reload()
    expect(pb.locator(".bell")).not_to_have_attribute("data-unread", "0")
    pb.locator("#bell").click()
    expect(notes.first).to_contain_text(f"Ada assigned you #{t['number']}")
    pb.get_by_role("button", name="Mark all read").click()
    expect(pb.locator(".bell")).to_have_attribute("data-unread", "0")
    assert api("GET", "/me/notifications?unread=true", bob["token"])["items"] == []
    csp_clean(pb)
    pa.context.close()
    pb.context.close()


@test
def live_board_and_list_follow_another_browser(b, env):
    ada, bob = env["ada"], env["bob"]
    p = team_of_two(env, "Live")
    one = task(ada, p["id"], title="Live one")
    two = task(ada, p["id"], title="Live two")
    pa, pb = b.page(ada), b.page(bob)
    for page in (pa, pb):
        page.goto(f"/p/{p['id']}/board")
        expect(page.locator("#board")).to_have_attribute("data-ready", "true")
        expect(page.locator("body")).to_have_attribute("data-live", "open")
    a_todo, b_todo = pa.locator(".cards[data-status=todo]"), pb.locator(".cards[data-status=todo]")
    b_doing = pb.locator(".cards[data-status=in_progress]")
    # Ada moves a card with the keyboard; Bob's board shows it moved, without a reload.
    pa.evaluate("document.querySelector('.card[data-id=\"%s\"]').__mark = 1" % one["id"])
    a_todo.locator(".card", has_text="Live one").focus()
    # Ada's page reads the task again when the event of her own move comes back...
    with pa.expect_response(lambda r: r.url.endswith(f"/api/v1/tasks/{one['id']}") and r.request.method == "GET", timeout=10_000):
        pa.keyboard.press("Shift+ArrowRight")
        expect(b_doing.locator(".card", has_text="Live one")).to_have_count(1, timeout=10_000)
    expect(b_todo.locator(".card", has_text="Live one")).to_have_count(0)
    expect(pb.locator(".column[data-status=in_progress] .count")).to_have_text("1")
    # ...and, finding the version it shows already, leaves the card alone (no flicker): the
    # element she moved is the same one.
    pa.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
    assert pa.evaluate("document.querySelector('.card[data-id=\"%s\"]').__mark" % one["id"]) == 1
    expect(pa.locator(".cards[data-status=in_progress] .card", has_text="Live one")).to_be_focused()
    # Bob reorders within a column; Ada sees the server's order.
    pb.locator(".card", has_text="Live one").focus()
    pb.keyboard.press("Shift+ArrowLeft")
    expect(a_todo.locator(".card").first).to_contain_text("Live one", timeout=10_000)
    # Someone else adds, renames and deletes through the API: both boards follow.
    three = task(bob, p["id"], title="Live three")
    for page in (pa, pb):
        expect(page.locator(".cards[data-status=todo] .card").last).to_contain_text("Live three", timeout=10_000)
    api("PATCH", f"/tasks/{two['id']}", bob["token"], {"title": "Live two, renamed"}, expect_status=200)
    expect(a_todo.locator(".card", has_text="Live two, renamed")).to_have_count(1, timeout=10_000)
    api("DELETE", f"/tasks/{three['id']}", bob["token"], expect_status=204)
    expect(a_todo.locator(".card", has_text="Live three")).to_have_count(0, timeout=10_000)
    # An open task's comments follow too.
    pa.goto(f"/p/{p['id']}/board?task={two['id']}")
    expect(pa.locator("#no-comments")).to_be_visible()
    expect(pa.locator("body")).to_have_attribute("data-live", "open")
    api("POST", f"/tasks/{two['id']}/comments", bob["token"], {"body": "Said elsewhere"}, expect_status=201)
    expect(pa.locator("#comments .comment")).to_contain_text("Said elsewhere", timeout=10_000)
    expect(pa.locator(f".card[data-id='{two['id']}'] .comment-count")).to_have_text("1")
    expect(pb.locator(f".card[data-id='{two['id']}'] .comment-count")).to_have_text("1", timeout=10_000)
    # ...and so do its fields, while Ada has typed nothing.
    api("PATCH", f"/tasks/{two['id']}", bob["token"], {"title": "Live two, again", "priority": 2}, expect_status=200)
    expect(pa.locator("#task-title")).to_have_value("Live two, again", timeout=10_000)
    expect(pa.locator("#task-priority")).to_have_value("2")
    expect(pa.locator(f".card[data-id='{two['id']}']")).to_contain_text("Live two, again")
    # The list follows too: Bob marks a task done; Ada's list, which shows done tasks, marks
    # its row; her list of open tasks drops it and counts one fewer.
    pa.goto(f"/p/{p['id']}?done=show")
    expect(pa.locator("#task-list .row").first).to_be_visible()
    expect(pa.locator("body")).to_have_attribute("data-live", "open")
    pb.goto(f"/p/{p['id']}")
    expect(pb.locator(f".row[data-id='{two['id']}']")).to_have_count(1)
    expect(pb.locator("#list-count")).to_have_text("2 open")
    api("PATCH", f"/tasks/{two['id']}", bob["token"], {"status": "done"}, expect_status=200)
    expect(pa.locator(f".row[data-id='{two['id']}']")).to_have_class(re.compile(r"\bstatus-done\b"), timeout=10_000)
    expect(pb.locator(f".row[data-id='{two['id']}']")).to_have_count(0, timeout=10_000)
    expect(pb.locator("#list-count")).to_have_text("1 open")
    expect(pb.locator("#show-done")).to_have_text("Show done (1)")
    # One stream per tab, for every project, kept across views; it ends with the session.
    pa.goto("/settings")
    expect(pa.locator("#profile")).to_be_visible()
    expect(pa.locator("body")).to_have_attribute("data-live", "open")
    pa.locator("#sign-out").click()
    expect(pa).to_have_url(OPEN + "/signin")
    expect(pa.locator("body")).not_to_have_attribute("data-live", "open")
    pa.context.close()
    pb.context.close()


@test
def email_notifications_toggle(b, env):
    dora = user("Dora")
    assert api("GET", "/me", dora["token"])["email_notifications"] is True
    page = b.page(dora)
    page.goto("/settings")
    toggle = page.get_by_label("Email notifications")
    expect(toggle).to_be_checked()
    toggle.uncheck()
    expect(page.locator("#email-notifications-state")).to_contain_text("Saved")
    eventually(lambda: api("GET", "/me", dora["token"])["email_notifications"] is False)
    page.reload()
    expect(page.get_by_label("Email notifications")).not_to_be_checked()
    page.context.close()


# --- issue 23: email and webhooks ------------------------------------------------------------

@test
def forgot_password_sends_a_link_that_works_once(b, env):
    rita = user("Rita")
    page = b.page()
    page.goto("/signin")
    page.get_by_role("link", name="Forgot your password?").click()
    expect(page.get_by_role("heading", name="Reset your password")).to_be_visible()
    page.get_by_label("Email").fill(rita["email"])
    page.get_by_role("button", name="Send reset link").click()
    expect(page.locator("#forgot-sent")).to_contain_text("on its way")
    axe(page, "forgot password")
    link = link_in(mail_to(rita["email"]), "/reset")
    page.goto(link)
    expect(page.get_by_role("heading", name="Choose a new password")).to_be_visible()
    page.get_by_label("New password").fill("short")
    page.get_by_role("button", name="Set password").click()
    expect(page.locator("#reset-password-error")).to_contain_text("10")
    page.get_by_label("New password").fill("a fresh passphrase here")
    page.get_by_role("button", name="Set password").click()
    expect(page.locator("#reset-done")).to_contain_text("changed")
    axe(page, "password reset")
    # The link works once.
    page.goto(link)
    page.get_by_label("New password").fill("another passphrase here")
    page.get_by_role("button", name="Set password").click()
    expect(page.locator("#reset-error")).to_contain_text("used or expired")
    page.get_by_role("link", name="Ask for a new one").click()
    expect(page.get_by_role("heading", name="Reset your password")).to_be_visible()
    page.goto("/signin")
    page.get_by_label("Email").fill(rita["email"])
    page.get_by_label("Password").fill("a fresh passphrase here")
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page.get_by_role("heading", name="Inbox", level=1)).to_be_visible()
    csp_clean(page)
    page.context.close()


@test
def an_invitation_link_opens_an_account_in_the_project(b, env):
    ivan = user("Ivan")
    team = project(ivan, "Invited team")
    address = f"guest-{random.randrange(10**9)}@example.com"
    answer = api("POST", f"/projects/{team['id']}/members", ivan["token"], {"email": address, "role": "editor"}, expect_status=202)
    assert answer["invitation"]["email"] == address
    page = b.page()
    page.goto(link_in(mail_to(address), "/invite"))
    expect(page.get_by_role("heading", name="Join Docket")).to_be_visible()
    axe(page, "invitation")
    page.get_by_label("Name").fill("Gina Guest")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Create account and join").click()
    expect(page.get_by_role("heading", name="Invited team", level=1)).to_be_visible()
    assert any(m["user"]["email"] == address and m["role"] == "editor"
               for m in api("GET", f"/projects/{team['id']}/members", ivan["token"])["items"])
    csp_clean(page)
    page.context.close()


@test
def webhooks_settings_create_ping_deliveries_and_rotate(b, env):
    import http.server
    import threading
    received = []

    class Receiver(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            received.append({"id": self.headers.get("webhook-id"), "body": json.loads(body)})
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        wes = user("Wes")
        team = project(wes, "Hooked")
        page = b.page(wes)
        page.goto(f"/p/{team['id']}/settings")
        expect(page.locator("#no-webhooks")).to_be_visible()
        page.get_by_label("Payload URL").fill(f"http://127.0.0.1:{server.server_port}/hook")
        page.get_by_label("Description (optional)").fill("CI")
        page.get_by_role("button", name="Add webhook").click()
        secret = page.locator("#webhook-secret-value")
        expect(secret).to_have_value(re.compile(r"^whsec_"))
        first_secret = secret.input_value()
        expect(page.get_by_role("button", name="Copy")).to_be_visible()
        hook = page.locator("li.webhook")
        expect(hook).to_contain_text("Active")
        shoot(page, "webhooks", widths=(1280,), schemes=("light",))
        # A ping reaches the receiver; the deliveries say so with the code and the time it took.
        hook.get_by_role("button", name="Send a ping").click()
        eventually(lambda: any(r["body"]["type"] == "webhook.ping" for r in received))

        def delivered():
            hook.get_by_role("button", name="Deliveries").click()
            page.wait_for_timeout(100)
            return hook.locator(".delivery-status.delivered").count() > 0
        eventually(delivered)
        row = hook.locator(".delivery-list tbody tr").first
        expect(row).to_contain_text("webhook.ping")
        expect(row).to_contain_text("204")
        expect(row).to_contain_text(" ms")
        # Redeliver sends the same event again, with the same id.
        row.get_by_role("button", name="Redeliver webhook.ping").click()
        eventually(lambda: sum(1 for r in received if r["body"]["type"] == "webhook.ping") >= 2)
        pings = [r["id"] for r in received if r["body"]["type"] == "webhook.ping"]
        assert pings[0] == pings[1], pings
        # Rotating shows the new secret once.
        hook.get_by_role("button", name="Rotate secret").click()
        page.get_by_role("dialog").get_by_role("button", name="Rotate").click()
        expect(page.locator("#webhook-secret-value")).not_to_have_value(first_secret)
        expect(page.locator("#webhook-secret-value")).to_have_value(re.compile(r"^whsec_"))
        # Switched off, it says so.
        hook.get_by_role("button", name="Switch off").click()
        expect(page.locator("li.webhook")).to_contain_text("Disabled")
        axe(page, "webhooks settings")
        csp_clean(page)
        page.context.close()
    finally:
        server.shutdown()


@test
def export_and_import_a_project_with_a_bad_csv_row_fixed(b, env):
    """Issue 25: Export downloads the project's JSON; Import project lists a CSV's bad row by
    field, and the fixed file becomes a project with its tasks, opened at once."""
    ida = user("Ida")
    source = project(ida, "Exported")
    for title in ("First thing", "Second thing"):
        task(ida, source["id"], title=title)
    page = b.page(ida)
    page.goto(f"/p/{source['id']}/settings")
    with page.expect_download() as download:
        page.get_by_role("link", name="Export", exact=True).click()
    assert download.value.suggested_filename.endswith(".docket.json"), download.value.suggested_filename
    with open(download.value.path()) as f:
        doc = json.load(f)
    assert doc["format"] == "docket-export" and doc["project"]["name"] == "Exported", doc["project"]
    assert [t["title"] for t in doc["tasks"]] == ["First thing", "Second thing"], doc["tasks"]

    page.get_by_role("link", name="Import project").click()
    expect(page).to_have_url(re.compile(r"/import$"))
    owned = len(api("GET", "/projects?limit=100", ida["token"])["items"])
    header = "title,priority,due_date,labels\n"
    bad = header + "Write the docs,2,2026-12-20,docs\nFix the build,9,2026-13-01,ci\nShip it,1,,\n"
    csv_file = lambda body: {"name": "plan.csv", "mimeType": "text/csv", "buffer": body.encode()}
    page.set_input_files("#import-file", files=[csv_file(bad)])
    # A CSV needs a name: said under the field, nothing sent.
    page.get_by_role("button", name="Import", exact=True).click()
    expect(page.locator("#import-name-error")).to_contain_text("needs a name")
    page.get_by_label("Project name").fill("Plan")
    page.get_by_role("button", name="Import", exact=True).click()
    errors = page.locator("#import-errors tbody tr")
    expect(errors).to_have_count(2)
    assert sorted(errors.evaluate_all("rows => rows.map(r => r.dataset.field)")) == ["rows.2.due_date", "rows.2.priority"]
    priority = page.locator('#import-errors tr[data-field="rows.2.priority"] td')
    expect(priority).to_have_text(["2", "priority", re.compile(r"0 \(none\) to 4")])
    assert len(api("GET", "/projects?limit=100", ida["token"])["items"]) == owned, "a refused import created a project"
    expect(page.get_by_label("Project name")).to_have_value("Plan")
    axe(page, "import errors")

    # Fixed, the file becomes a project: opened, with its three tasks in file order.
    good = header + "Write the docs,2,2026-12-20,docs\nFix the build,3,2026-12-31,ci\nShip it,1,,\n"
    page.set_input_files("#import-file", files=[csv_file(good)])
    page.get_by_role("button", name="Import", exact=True).click()
    expect(page).to_have_url(re.compile(r"/p/[^/]+$"))
    rows = page.locator("#task-list .row")
    expect(rows).to_have_count(3)
    for title in ("Write the docs", "Fix the build", "Ship it"):
        expect(page.locator("#task-list")).to_contain_text(title)
    expect(page.get_by_role("navigation", name="Projects")).to_contain_text("Plan")

    # The downloaded export imports as it is: named as the exported project, its tasks in order.
    page.get_by_role("link", name="Import project").click()
    page.set_input_files("#import-file", download.value.path())
    page.get_by_role("button", name="Import", exact=True).click()
    expect(page).to_have_url(re.compile(r"/p/[^/]+$"))
    assert page.url.rsplit("/", 1)[1] != source["id"]
    expect(rows).to_have_count(2)
    expect(rows.first).to_contain_text("First thing")

    # A large file on a slow link shows how much of it has gone up, then opens its project.
    page.get_by_role("link", name="Import project").click()
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Network.emulateNetworkConditions", {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": 256 * 1024})
    filler = "lorem ipsum " * 160
    big = "title,description,priority\n" + "".join(f"Task {i},{filler},1\n" for i in range(500))
    page.get_by_label("Project name").fill("Big")
    page.set_input_files("#import-file", files=[csv_file(big)])
    page.get_by_role("button", name="Import", exact=True).click()
    page.wait_for_function("() => { const b = document.querySelector('#import-progress'); return b && !b.hidden && b.value > 0; }")
    expect(page.locator("#import-status")).to_contain_text("Uploading")
    expect(page).to_have_url(re.compile(r"/p/[^/]+$"), timeout=60_000)
    cdp.send("Network.emulateNetworkConditions", {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1})
    big_id = page.url.rsplit("/", 1)[1]
    assert api("GET", f"/projects/{big_id}", ida["token"])["name"] == "Big"
    csp_clean(page)
    page.context.close()


# --- issue 27: the client's daily feel ----------------------------------------------------------

def huge(env):
    """A project of 10,000 tasks, 2,500 in each status (made once, on first use: ~20 s)."""
    if "huge" not in env:
        ada = env["ada"]
        p = project(ada, "Ten thousand")
        statuses = ("todo", "in_progress", "done", "canceled")
        started = time.time()
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda i: task(ada, p["id"], title=f"Bulk item {i} of the {('alpha', 'beta', 'gamma')[i % 3]} batch",
                                         status=statuses[i % 4]), range(10_000)))
        print(f"  set-up: 10,000 tasks in {time.time() - started:.1f} s", flush=True)
        env["huge"] = p
    return env["huge"]


def focused(page):
    """The focused element: its tag, id and whether it takes typing."""
    return page.evaluate("""() => { const e = document.activeElement;
        return {tag: e.tagName, id: e.id, field: e.matches('input:not([type=checkbox]), textarea, select, [contenteditable]')}; }""")


@test
def opening_a_task_focuses_the_panel_and_shortcuts_never_type_into_fields(b, env):
    ada = env["ada"]
    p = project(ada, "Focus")
    made = [task(ada, p["id"], title=f"Focus task {i}") for i in range(1, 5)]
    page = b.page(ada)
    page.goto(f"/p/{p['id']}")
    rows = page.locator("#task-list .row")
    expect(rows).to_have_count(4)
    page.evaluate("document.querySelector('#task-list').__mark = 1")
    # j, Enter: the panel opens with the focus on itself, not on the title.
    page.keyboard.press("j")
    page.keyboard.press("Enter")
    expect(page.locator("#task-title")).to_have_value("Focus task 1")
    expect(page.locator("#task-panel")).to_be_focused()
    assert not focused(page)["field"], focused(page)
    # j j and ? while it is open: they move to the next tasks and show the shortcuts; nothing is
    # typed anywhere.
    page.keyboard.press("j")
    expect(page.locator("#task-title")).to_have_value("Focus task 2")
    page.keyboard.press("j")
    expect(page.locator("#task-title")).to_have_value("Focus task 3")
    expect(page.locator("#task-panel")).to_be_focused()
    expect(page).to_have_url(re.compile(f"task={made[2]['id']}"))
    page.keyboard.press("k")
    expect(page.locator("#task-title")).to_have_value("Focus task 2")
    page.keyboard.press("?")
    expect(page.get_by_role("dialog", name="Keyboard shortcuts")).to_be_visible()
    page.keyboard.press("Escape")
    expect(page.get_by_role("dialog", name="Keyboard shortcuts")).to_have_count(0)
    # The list was not drawn again: the panel opened in place.
    assert page.evaluate("document.querySelector('#task-list').__mark") == 1
    # `e` edits the title; Esc goes back to the panel, a second Esc closes it.
    page.keyboard.press("e")
    expect(page.locator("#task-title")).to_be_focused()
    page.keyboard.press("End")
    page.keyboard.type(" (edited)")
    page.keyboard.press("Escape")
    expect(page.locator("#task-panel")).to_be_focused()
    eventually(lambda: api("GET", f"/tasks/{made[1]['id']}", ada["token"])["title"] == "Focus task 2 (edited)")
    page.keyboard.press("Escape")
    expect(page.locator("#task-panel")).to_have_count(0)
    expect(rows.nth(1).locator(".row-title")).to_be_focused()
    for t in (made[0], made[2], made[3]):
        assert api("GET", f"/tasks/{t['id']}", ada["token"])["title"] == t["title"]
    # A click anywhere on a row (here its right edge) opens it, focused the same way; the
    # browser's back closes it.
    edge = rows.nth(3).bounding_box()
    page.mouse.click(edge["x"] + edge["width"] - 4, edge["y"] + edge["height"] / 2)
    expect(page.locator("#task-title")).to_have_value("Focus task 4")
    expect(page.locator("#task-panel")).to_be_focused()
    page.go_back()
    expect(page.locator("#task-panel")).to_have_count(0)
    # On the board too: a card opens focused on the panel, j opens the next card.
    page.goto(f"/p/{p['id']}/board")
    expect(page.locator("#board")).to_have_attribute("data-ready", "true")
    page.locator(".card", has_text="Focus task 1").click()
    expect(page.locator("#task-panel")).to_be_focused()
    page.keyboard.press("j")
    expect(page.locator("#task-title")).to_have_value("Focus task 2 (edited)")
    assert not focused(page)["field"], focused(page)
    page.context.close()


@test
def quick_add_keeps_words_that_only_look_like_dates(b, env):
    ada = env["ada"]
    p = project(ada, "Quick add")
    page = b.page(ada)
    page.goto(f"/p/{p['id']}")
    expect(page.locator(".empty")).to_be_visible()
    qa = page.locator("#quick-add")
    chips = page.locator("#quick-add-chips")
    # "sun" is a word: nothing is highlighted, nothing leaves the title.
    page.keyboard.press("c")
    page.keyboard.type("Design sun icon for dark mode")
    expect(page.locator(".qa-mirror mark")).to_have_count(0)
    expect(chips.locator(".chip")).to_have_count(0)
    page.keyboard.press("Enter")
    expect(page.locator("#task-list .row")).to_have_count(1)
    expect(page.locator("#list-count")).to_have_text("1 open")
    # "Monday" is a date, and shows it: highlighted, a chip, the title that is left...
    page.keyboard.type("Update Monday newsletter copy")
    expect(page.locator(".qa-mirror mark.qa-due")).to_have_text("Monday")
    expect(page.locator("#quick-add-title")).to_have_text("Title: Update newsletter copy")
    expect(chips.locator(".chip-due")).to_contain_text("Due:")
    shoot(page, "quick-add", widths=(1280,), schemes=("light",))
    # ...and Backspace right after it turns it back into words.
    for _ in range(len(" newsletter copy")):
        page.keyboard.press("ArrowLeft")
    page.keyboard.press("Backspace")
    expect(qa).to_have_value("Update Monday newsletter copy")
    expect(page.locator(".qa-mirror mark.qa-due")).to_have_count(0)
    expect(chips.locator(".chip-due")).to_have_text("“Monday” as words")
    page.keyboard.press("Enter")
    expect(page.locator("#task-list .row")).to_have_count(2)
    # A click on a chip does the same, and a second click reads it again.
    qa.fill("Call the printer tomorrow")
    expect(chips.locator(".chip-due")).to_contain_text("Tomorrow")
    chips.locator(".chip-due").click()
    expect(chips.locator(".chip-due")).to_have_text("“tomorrow” as words")
    chips.locator(".chip-due").click()
    expect(chips.locator(".chip-due")).to_contain_text("Tomorrow")
    expect(qa).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("#task-list .row")).to_have_count(3)
    made = {t["title"]: t for t in api("GET", f"/projects/{p['id']}/tasks", ada["token"])["items"]}
    tomorrow = (datetime.date.today() + datetime.timedelta(days=1)).isoformat()
    assert set(made) == {"Design sun icon for dark mode", "Update Monday newsletter copy", "Call the printer"}, made
    assert made["Design sun icon for dark mode"]["due_date"] is None
    assert made["Update Monday newsletter copy"]["due_date"] is None
    assert made["Call the printer"]["due_date"] == tomorrow
    page.context.close()


@test
def command_menu_goes_to_a_task_in_another_project(b, env):
    ada, launch, board_project = env["ada"], env["launch"], env["board"]
    target = task(ada, board_project["id"], title="Quasar calibration notes")
    page = b.page(ada)
    page.goto(f"/p/{launch['id']}")
    expect(page.locator("#task-list .row").first).to_be_visible()
    page.keyboard.press("Control+k")
    menu = page.get_by_role("dialog", name="Command menu")
    expect(menu).to_be_visible()
    expect(page.locator("#command-input")).to_be_focused()
    page.keyboard.type("quasar")
    option = menu.get_by_role("option", name=re.compile("Quasar calibration notes"))
    expect(option).to_be_visible()
    axe(page, "command menu")
    page.screenshot(path=os.path.join(SHOTS, "command-menu-1280-light.png"))
    # Arrow keys choose; Enter goes there: the other project, the task open.
    for _ in range(20):
        if "Quasar" in page.locator("#command-results [aria-selected=true]").inner_text():
            break
        page.keyboard.press("ArrowDown")
    page.keyboard.press("Enter")
    expect(page).to_have_url(f"{OPEN}/p/{board_project['id']}?task={target['id']}")
    expect(page.locator("#task-title")).to_have_value("Quasar calibration notes")
    # Places are fuzzy-matched; a task number finds that task in every project.
    page.keyboard.press("Control+k")
    page.keyboard.type("thsnd brd")
    expect(page.locator("#command-results [aria-selected=true]")).to_contain_text("Thousand: Board")
    page.keyboard.press("Enter")
    expect(page).to_have_url(f"{OPEN}/p/{env['big']['id']}/board")
    page.locator("#goto").click()
    page.keyboard.type(f"#{target['number']}")
    expect(menu.get_by_role("option", name=re.compile(f"#{target['number']} Quasar calibration notes"))).to_be_visible()
    expect(menu.get_by_role("option", name=re.compile(f"#{target['number']} "))).not_to_have_count(1)
    page.keyboard.press("Escape")
    expect(menu).to_have_count(0)
    # Results on 10,000 tasks: from a keystroke to the task found by the server's search.
    big = huge(env)
    page.goto(f"/p/{big['id']}")
    expect(page.locator("#task-list .row").first).to_be_visible()
    timings = []
    for word in ("gamma", "beta", "alpha", "batch", "item"):
        page.keyboard.press("Control+k")
        expect(menu).to_be_visible()
        ms = page.evaluate("""(word) => new Promise((resolve) => {
            const input = document.getElementById('command-input');
            const list = document.getElementById('command-results');
            const t0 = performance.now();
            input.value = word;
            input.dispatchEvent(new Event('input'));
            const check = () => list.dataset.searched === word ? resolve(performance.now() - t0) : requestAnimationFrame(check);
            check();
        })""", word)
        expect(menu.get_by_role("option", name=re.compile(f"Bulk item .* {word if word in ('alpha', 'beta', 'gamma') else ''}"))).not_to_have_count(0)
        timings.append(ms)
        page.keyboard.press("Escape")
    timings.sort()
    REPORT["budgets"]["command_menu_results_10000_tasks_ms_median"] = round(timings[len(timings) // 2], 1)
    REPORT["budgets"]["command_menu_results_10000_tasks_ms_max"] = round(timings[-1], 1)
    # The figure is reported; the bound is loose enough for a loaded machine.
    assert timings[len(timings) // 2] <= 300, timings
    page.context.close()


@test
def cards_open_on_a_click_anywhere_with_one_priority_scale(b, env):
    ada = env["ada"]
    p = project(ada, "Priorities")
    urgent = task(ada, p["id"], title="Urgent one", priority=4)
    high = task(ada, p["id"], title="High one", priority=3)
    task(ada, p["id"], title="Low one", priority=1)
    page = b.page(ada)
    page.goto(f"/p/{p['id']}/board")
    expect(page.locator("#board")).to_have_attribute("data-ready", "true")
    card_urgent = page.locator(f".card[data-id='{urgent['id']}']")
    card_high = page.locator(f".card[data-id='{high['id']}']")
    # Urgent and High look different on the board...
    expect(card_urgent.locator(".prio")).to_have_attribute("aria-label", "Priority Urgent")
    expect(card_high.locator(".prio")).to_have_attribute("aria-label", "Priority High")
    glyph = "el => ({html: el.innerHTML, color: getComputedStyle(el).color, bg: getComputedStyle(el).backgroundColor})"
    on_board = {k: page.locator(f".card[data-id='{t['id']}'] .prio").evaluate(glyph) for k, t in (("urgent", urgent), ("high", high))}
    assert on_board["urgent"] != on_board["high"], on_board
    # A click on the card's edge, away from its title, opens it.
    box = card_high.bounding_box()
    page.mouse.click(box["x"] + box["width"] - 6, box["y"] + box["height"] - 6)
    expect(page.locator("#task-title")).to_have_value("High one")
    # ...and the panel and the list use the same glyph and colour for each.
    expect(page.locator("#task-priority-glyph .prio")).to_have_attribute("aria-label", "Priority High")
    in_panel = page.locator("#task-priority-glyph .prio").evaluate(glyph)
    assert in_panel == on_board["high"], (in_panel, on_board)
    page.goto(f"/p/{p['id']}")
    for k, t in (("urgent", urgent), ("high", high)):
        # The first page of rows may be drawn again as the list settles: read a glyph that is in
        # the document (a detached one has no computed style).
        page.wait_for_function("id => { const g = document.querySelector(`.row[data-id='${id}'] .prio`); return g && g.isConnected && getComputedStyle(g).color !== ''; }", arg=t["id"])
        in_list = page.locator(f".row[data-id='{t['id']}'] .prio").evaluate(glyph)
        assert in_list == on_board[k], (k, in_list, on_board[k])
    page.context.close()


@test
def a_member_added_or_removed_sees_the_sidebar_change_at_once(b, env):
    ada, bob = env["ada"], env["bob"]
    p = project(ada, "Surprise")
    pb = b.page(bob)
    pb.goto("/my")
    expect(pb.locator("body")).to_have_attribute("data-live", "open")
    projects = pb.get_by_role("navigation", name="Projects")
    expect(projects.get_by_role("link", name="Surprise")).to_have_count(0)
    # Ada adds Bob in her browser; his sidebar shows the project at once.
    pa = b.page(ada)
    pa.goto(f"/p/{p['id']}/members")
    pa.get_by_label("Email").fill(bob["email"])
    pa.locator("#member-role").select_option("editor")
    pa.get_by_role("button", name="Add member").click()
    expect(pa.locator(f"tr[data-user='{bob['id']}']")).to_contain_text("Bob")
    expect(projects.get_by_role("link", name="Surprise")).to_be_visible(timeout=10_000)
    expect(pb.locator("#toasts")).to_contain_text("Ada added you to Surprise")
    # Removed while looking at it: the project leaves the sidebar and Bob goes to his Inbox.
    projects.get_by_role("link", name="Surprise").click()
    expect(pb.get_by_role("heading", name="Surprise", level=1)).to_be_visible()
    pa.locator(f"tr[data-user='{bob['id']}']").get_by_role("button", name="Remove").click()
    pa.get_by_role("dialog").get_by_role("button", name="Remove").click()
    expect(pa.locator(f"tr[data-user='{bob['id']}']")).to_have_count(0)
    expect(projects.get_by_role("link", name="Surprise")).to_have_count(0, timeout=10_000)
    expect(pb.get_by_role("heading", name="Inbox", level=1)).to_be_visible()
    pa.context.close()
    pb.context.close()


@test
def phone_layout_puts_the_first_task_above_the_fold(b, env):
    ada, launch = env["ada"], env["launch"]
    ctx = b.browser.new_context(viewport={"width": 375, "height": 667}, base_url=OPEN, has_touch=True, is_mobile=True)
    r = ctx.request.post(OPEN + "/api/v1/auth/session", data={"email": ada["email"], "password": PASSWORD}, headers={"x-forwarded-for": ip()})
    assert r.ok, r.text()
    page = ctx.new_page()
    page.on("pageerror", lambda e: b.errors.append(str(e)))
    page.goto(f"/p/{launch['id']}")
    first = page.locator("#task-list .row").first
    expect(first).to_be_visible()
    bar = page.locator(".topbar").bounding_box()
    row = first.bounding_box()
    REPORT["budgets"]["phone_first_row_top_px"] = round(row["y"])
    # One compact top bar, and the first task in the top quarter of the screen.
    assert bar["height"] <= 56, bar
    assert row["y"] + row["height"] <= 667 * 0.3, row
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    for name in ("Show navigation", "Go to", "More"):
        expect(page.get_by_role("button", name=name)).to_be_visible()
    expect(page.locator(".segmented .seg")).to_have_count(2)
    # Quick add is pinned to the bottom of the screen.
    qa = page.locator(".quick-add").bounding_box()
    assert abs(qa["y"] + qa["height"] - 667) <= 1, qa
    shoot(page, "phone-list", widths=(375,))
    page.get_by_role("button", name="More").click()
    expect(page.locator("#overflow-menu").get_by_role("link", name="Members")).to_be_visible()
    axe(page, "phone overflow menu")
    page.keyboard.press("Escape")
    # The task full screen; the browser's back (the back gesture) returns to the list as it was.
    page.evaluate("document.querySelector('#task-list').__mark = 1")
    first.locator(".row-title").click()
    panel = page.locator("#task-panel")
    expect(panel).to_be_visible()
    assert panel.bounding_box()["width"] >= 374
    assert not focused(page)["field"], focused(page)
    expect(page.get_by_role("button", name="Back")).to_be_visible()
    shoot(page, "phone-task", widths=(375,), schemes=("light",))
    page.go_back()
    expect(panel).to_have_count(0)
    assert page.evaluate("document.querySelector('#task-list').__mark") == 1
    # The board: one column a page, the next one a button (or a swipe) away.
    page.goto(f"/p/{launch['id']}/board")
    expect(page.locator("#board")).to_have_attribute("data-ready", "true")
    column = page.locator(".column").first.bounding_box()
    assert 375 - 64 <= column["width"] <= 375, column
    page.locator("#board-right").click()
    page.wait_for_function("() => document.getElementById('board').scrollLeft > 200")
    shoot(page, "phone-board", widths=(375,))
    # Touch: a finger that rests on a card lifts it; carried to the screen's edge, it turns the
    # page; let go, the card is in the column under it.
    page.locator("#board-left").click()
    page.wait_for_function("() => document.getElementById('board').scrollLeft === 0")
    card = page.locator(".cards[data-status=todo] .card").first
    card_id = card.get_attribute("data-id")
    box = card.bounding_box()
    cdp = ctx.new_cdp_session(page)
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2

    def touch(kind, px, py):
        points = [] if kind == "touchEnd" else [{"x": px, "y": py}]
        cdp.send("Input.dispatchTouchEvent", {"type": kind, "touchPoints": points})
    touch("touchStart", x, y)
    page.wait_for_function("() => document.querySelector('.drag-ghost') !== null")
    for step in range(1, 9):
        touch("touchMove", x + (368 - x) * step / 8, y)
    page.wait_for_function("() => document.getElementById('board').scrollLeft > 150")
    touch("touchMove", 187, y + 20)
    touch("touchEnd", 187, y + 20)
    expect(page.locator(".drag-ghost")).to_have_count(0)
    landed = page.locator(f".card[data-id='{card_id}']").evaluate("el => el.closest('.cards').dataset.status")
    assert landed != "todo", landed
    eventually(lambda: api("GET", f"/tasks/{card_id}", ada["token"])["status"] == landed)
    # A swipe to the right on the full-screen task goes back.
    page.locator(f".card[data-id='{card_id}']").click()
    expect(page.locator("#task-panel")).to_be_visible()
    touch("touchStart", 60, 400)
    for step in range(1, 6):
        touch("touchMove", 60 + 40 * step, 402)
    touch("touchEnd", 260, 402)
    expect(page.locator("#task-panel")).to_have_count(0)
    api("PATCH", f"/tasks/{card_id}", ada["token"], {"status": "todo"}, expect_status=200)
    ctx.close()


@test
def undo_after_complete_delete_and_move_and_done_tasks_hidden(b, env):
    ada = env["ada"]
    p = project(ada, "Undo")
    one = task(ada, p["id"], title="Undo one")
    two = task(ada, p["id"], title="Undo two")
    task(ada, p["id"], title="Undo three")
    old = task(ada, p["id"], title="Finished long ago", status="done")
    page = b.page(ada)
    page.goto(f"/p/{p['id']}")
    rows = page.locator("#task-list .row")
    # Done tasks stay out of the list until asked for, in the URL.
    expect(rows).to_have_count(3)
    expect(page.locator("#list-count")).to_have_text("3 open")
    page.locator("#show-done").click()
    expect(page).to_have_url(f"{OPEN}/p/{p['id']}?done=show")
    expect(rows.filter(has_text="Finished long ago")).to_have_count(1)
    expect(page.locator("#show-done")).to_have_attribute("aria-pressed", "true")
    page.locator("#show-done").click()
    expect(page).to_have_url(f"{OPEN}/p/{p['id']}")
    expect(rows.filter(has_text="Finished long ago")).to_have_count(0)
    # Completing offers Undo; Undo is a write with If-Match that puts it back.
    page.locator(f".row[data-id='{one['id']}'] .status-toggle").click()
    toast = page.locator("#toasts .toast", has_text=f"#{one['number']} is done")
    expect(toast).to_be_visible()
    eventually(lambda: api("GET", f"/tasks/{one['id']}", ada["token"])["status"] == "done")
    shoot(page, "undo", widths=(1280,), schemes=("light",))
    toast.get_by_role("button", name="Undo").click()
    eventually(lambda: api("GET", f"/tasks/{one['id']}", ada["token"])["status"] == "todo")
    expect(page.locator(f".row[data-id='{one['id']}']")).to_have_class(re.compile(r"\bstatus-todo\b"))
    # Ctrl+Z undoes the newest change too.
    page.locator(f".row[data-id='{two['id']}'] .status-toggle").click()
    expect(page.locator("#toasts .toast", has_text=f"#{two['number']} is done")).to_be_visible()
    page.keyboard.press("Control+z")
    eventually(lambda: api("GET", f"/tasks/{two['id']}", ada["token"])["status"] == "todo")
    # Deleting: the row goes at once, Undo brings it back and nothing was deleted.
    page.locator(f".row[data-id='{one['id']}'] .row-title").click()
    page.locator("#delete-task").click()
    expect(page.locator(f".row[data-id='{one['id']}']")).to_be_hidden()
    page.locator("#toasts .toast", has_text="Deleted").get_by_role("button", name="Undo").click()
    expect(page.locator(f".row[data-id='{one['id']}']")).to_be_visible()
    assert api("GET", f"/tasks/{one['id']}", ada["token"])["title"] == "Undo one"
    # Without Undo, the delete goes out when the toast ends.
    page.locator(f".row[data-id='{one['id']}'] .row-title").click()
    page.locator("#delete-task").click()
    eventually(lambda: api("GET", f"/tasks/{one['id']}", ada["token"]).get("status") == 404, timeout=20)
    # Moving a card offers Undo too.
    page.goto(f"/p/{p['id']}/board")
    expect(page.locator("#board")).to_have_attribute("data-ready", "true")
    page.locator(f".card[data-id='{two['id']}']").focus()
    page.keyboard.press("Shift+ArrowRight")
    moved = page.locator("#toasts .toast", has_text=f"Moved #{two['number']} to In progress")
    expect(moved).to_be_visible()
    eventually(lambda: api("GET", f"/tasks/{two['id']}", ada["token"])["status"] == "in_progress")
    moved.get_by_role("button", name="Undo").click()
    expect(page.locator(f".cards[data-status=todo] .card[data-id='{two['id']}']")).to_have_count(1)
    eventually(lambda: api("GET", f"/tasks/{two['id']}", ada["token"])["status"] == "todo")
    assert api("GET", f"/tasks/{old['id']}", ada["token"])["status"] == "done"
    page.context.close()


@test
def the_board_shows_it_scrolls_and_the_dragged_card_floats_above_all(b, env):
    ada, board_project = env["ada"], env["board"]
    page = b.page(ada, width=1366)
    page.goto(f"/p/{board_project['id']}/board")
    expect(page.locator("#board")).to_have_attribute("data-ready", "true")
    # At 1366 px the fourth column is cut: a fade and a button say there is more.
    expect(page.locator(".board-frame")).to_have_class(re.compile(r"\bmore-right\b"))
    expect(page.locator("#board-left")).to_be_hidden()
    # A column at a time to the end (an admin's board ends with "Add column"), each scroll
    # settled before the next.
    at_end = "() => { const b = document.getElementById('board'); return b.scrollLeft + b.clientWidth >= b.scrollWidth - 1; }"
    settled = """() => new Promise(done => { const b = document.getElementById('board'); let last = -1;
        const look = () => { if (b.scrollLeft === last) done(b.scrollLeft); else { last = b.scrollLeft; setTimeout(look, 60); } }; look(); })"""
    for _ in range(4):
        page.evaluate(settled)
        if page.evaluate(at_end):
            break
        page.locator("#board-right").click()
    page.wait_for_function(at_end)
    expect(page.locator("#board-left")).to_be_visible()
    expect(page.locator("#board-right")).to_be_hidden()
    for _ in range(4):
        if page.evaluate(settled) <= 1:
            break
        page.locator("#board-left").click()
    page.wait_for_function("() => document.getElementById('board').scrollLeft <= 1")
    # Mid-drag, the card floats over the next column: fixed, on top, not clipped by its own.
    card = page.locator(".cards[data-status=todo] .card").first
    box = card.bounding_box()
    page.mouse.move(box["x"] + 20, box["y"] + 10)
    page.mouse.down()
    page.mouse.move(box["x"] + 40, box["y"] + 20, steps=3)
    page.mouse.move(box["x"] + 300, box["y"] + 40, steps=6)
    state = page.evaluate("""() => {
        const ghost = document.querySelector('.drag-ghost');
        const source = document.querySelector('.card.dragging').closest('.column').getBoundingClientRect();
        const r = ghost.getBoundingClientRect();
        const x = r.right - 10, y = r.top + r.height / 2;
        ghost.style.pointerEvents = 'auto';
        const top = document.elementFromPoint(x, y);
        ghost.style.pointerEvents = '';
        return {position: getComputedStyle(ghost).position, parent: ghost.parentElement.tagName,
                beyond: x > source.right, onTop: ghost.contains(top)};
    }""")
    assert state == {"position": "fixed", "parent": "BODY", "beyond": True, "onTop": True}, state
    page.screenshot(path=os.path.join(SHOTS, "board-drag-1366-light.png"))
    page.mouse.move(box["x"] + 20, box["y"] + 10, steps=4)
    page.mouse.up()
    page.context.close()


@test
def reduced_motion_is_honoured(b, env):
    ada, board_project = env["ada"], env["board"]
    durations = """() => ({
        panel: getComputedStyle(document.querySelector('#task-panel')).animationDuration,
        fade: getComputedStyle(document.querySelector('.board-frame'), '::after').transitionDuration,
    })"""
    found = {}
    for motion in ("no-preference", "reduce"):
        ctx = b.context(ada, width=1100)
        page = ctx.new_page()
        page.emulate_media(reduced_motion=motion)
        t = api("GET", f"/projects/{board_project['id']}/tasks?limit=1", ada["token"])["items"][0]
        page.goto(f"/p/{board_project['id']}/board?task={t['id']}")
        expect(page.locator("#task-panel")).to_be_visible()
        expect(page.locator("#board")).to_have_attribute("data-ready", "true")
        found[motion] = page.evaluate(durations)
        page.keyboard.press("Escape")
        expect(page.locator("#task-panel")).to_have_count(0)
        # The scroll buttons jump rather than glide.
        found[motion]["scrolled_at_once"] = page.evaluate("""() => {
            document.getElementById('board-right').click();
            return document.getElementById('board').scrollLeft > 0;
        }""")
        ctx.close()
    assert found["no-preference"]["panel"] != "0s" and found["no-preference"]["fade"] != "0s", found
    assert found["reduce"] == {"panel": "0s", "fade": "0s", "scrolled_at_once": True}, found
    assert found["no-preference"]["scrolled_at_once"] is False, found


@test
def exact_counts_on_a_2500_card_column(b, env):
    ada = env["ada"]
    big = huge(env)
    page = b.page(ada)
    page.goto(f"/p/{big['id']}/board")
    expect(page.locator("#board")).to_have_attribute("data-ready", "true")
    for status in ("todo", "in_progress", "done", "canceled"):
        expect(page.locator(f".column[data-status={status}] .count")).to_have_text("2,500")
    expect(page.locator(".cards[data-status=todo] .card")).to_have_count(50)
    # Kept live: another person's new task, and this person's move.
    task(ada, big["id"], title="One more")
    expect(page.locator(".column[data-status=todo] .count")).to_have_text("2,501", timeout=10_000)
    page.locator(".cards[data-status=todo] .card").first.focus()
    page.keyboard.press("Shift+ArrowRight")
    expect(page.locator(".column[data-status=todo] .count")).to_have_text("2,500")
    expect(page.locator(".column[data-status=in_progress] .count")).to_have_text("2,501")
    # The list says how many, exactly, with and without done tasks.
    page.goto(f"/p/{big['id']}")
    expect(page.locator("#list-count")).to_have_text("5,001 open")
    expect(page.locator("#show-done")).to_have_text("Show done (5,000)")
    page.goto(f"/p/{big['id']}?done=show")
    expect(page.locator("#list-count")).to_have_text("10,001 tasks")
    page.context.close()


@test
def bulk_change_of_twenty_tasks(b, env):
    ada, bob = env["ada"], env["bob"]
    p = project(ada, "Bulk")
    member(ada, p["id"], bob, "editor")
    made = [task(ada, p["id"], title=f"Bulk task {i:02d}") for i in range(1, 26)]
    page = b.page(ada)
    page.goto(f"/p/{p['id']}")
    rows = page.locator("#task-list .row")
    expect(rows).to_have_count(25)
    # Ctrl-click the first, Shift-click the twentieth: twenty picked.
    rows.nth(0).click(modifiers=["Control"], position={"x": 300, "y": 10})
    rows.nth(19).locator(".row-title").click(modifiers=["Shift"])
    expect(page.locator("#bulk-count")).to_have_text("20 picked")
    expect(page.locator("#task-panel")).to_have_count(0)
    shoot(page, "bulk", widths=(1280,), schemes=("light",))
    picked = [t["id"] for t in made[:20]]
    page.locator("#bulk-status").select_option("done")
    eventually(lambda: all(api("GET", f"/tasks/{i}", ada["token"])["status"] == "done" for i in picked), timeout=20)
    assert api("GET", f"/tasks/{made[20]['id']}", ada["token"])["status"] == "todo"
    page.locator("#toasts .toast", has_text="20 tasks status Done").get_by_role("button", name="Undo").click()
    eventually(lambda: all(api("GET", f"/tasks/{i}", ada["token"])["status"] == "todo" for i in picked), timeout=20)
    # Assignee and a label for all of them.
    page.locator("#bulk-assignee").select_option(bob["id"])
    page.locator("#bulk-label").fill("sweep")
    page.locator("#bulk-add-label").click()
    eventually(lambda: all((lambda t: t["assignee_id"] == bob["id"] and t["labels"] == ["sweep"])(api("GET", f"/tasks/{i}", ada["token"])) for i in picked), timeout=20)
    page.locator("#bulk-due").fill("2027-01-15")
    eventually(lambda: all(api("GET", f"/tasks/{i}", ada["token"])["due_date"] == "2027-01-15" for i in picked), timeout=20)
    # x picks from the keyboard; Esc drops the picks.
    page.keyboard.press("Escape")
    expect(page.locator(".bulk")).to_be_hidden()
    page.keyboard.press("j")
    page.keyboard.press("x")
    page.keyboard.press("j")
    page.keyboard.press("x")
    expect(page.locator("#bulk-count")).to_have_text("2 picked")
    # Delete with Undo: gone from the list at once, back with Undo, nothing deleted.
    page.locator("#bulk-delete").click()
    expect(rows.filter(visible=True)).to_have_count(23)
    page.locator("#toasts .toast", has_text="Deleted 2 tasks").get_by_role("button", name="Undo").click()
    expect(rows.filter(visible=True)).to_have_count(25)
    assert len(api("GET", f"/projects/{p['id']}/tasks?limit=100", ada["token"])["items"]) == 25
    page.context.close()


@test
def sign_in_fills_the_window_and_the_only_admin_keeps_their_role(b, env):
    ada = env["ada"]
    page = b.page(width=1280)
    page.goto("/signin")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    auth = page.locator(".auth").bounding_box()
    assert auth["height"] >= 800 - 1, auth
    page.context.close()
    # Ada, alone an administrator, is not offered to demote or disable herself.
    for u in api("GET", "/admin/users?limit=100", ada["token"])["items"]:
        if u["role"] == "admin" and u["id"] != ada["id"]:
            api("PATCH", f"/admin/users/{u['id']}", ada["token"], {"role": "user"}, expect_status=200)
    page = b.page(ada)
    page.goto("/admin")
    mine = page.locator(f"tr[data-user='{ada['id']}']")
    expect(mine).to_contain_text("The only administrator")
    expect(mine.get_by_role("button")).to_have_count(0)
    other = page.locator(f"tr[data-user]:not([data-user='{ada['id']}'])").first
    expect(other.get_by_role("button", name="Make admin")).to_be_visible()
    page.context.close()


# --- sign-in for organisations: single sign-on, second factors, passkeys (issue 29) ---------

def provider_login(page, login):
    """The test provider's own sign-in form (node-oidc-provider's interaction)."""
    expect(page.get_by_role("heading", name="Test provider")).to_be_visible()
    page.get_by_label("Login").fill(login)
    page.get_by_role("button", name="Continue").click()


def password_sign_in(page, who):
    page.get_by_label("Email").fill(who["email"])
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in", exact=True).click()


def signed_in_email(page):
    return page.evaluate("async () => (await (await fetch('/api/v1/me')).json()).email")


def sign_out(page, base):
    page.locator("#sign-out").click()
    expect(page).to_have_url(base + "/signin")


def enable_totp(who, base=OPEN):
    """Turns on TOTP through the API; returns pyotp's generator for its secret."""
    secret = api("POST", "/me/totp", who["token"], {}, base=base, expect_status=201)["secret"]
    totp = pyotp.TOTP(secret)
    # The previous step (accepted ±1): the current one stays free for a sign-in.
    api("POST", "/me/totp/confirm", who["token"], {"code": totp.at(time.time() - 30)}, base=base, expect_status=200)
    return totp


def wrong(code):
    return "000000" if code != "000000" else "111111"


def virtual_authenticator(page):
    """Chromium's virtual authenticator (CDP WebAuthn): a platform passkey with user
    verification, answering every request without a person."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    found = cdp.send("WebAuthn.addVirtualAuthenticator", {"options": {
        "protocol": "ctap2", "ctap2Version": "ctap2_1", "transport": "internal", "hasResidentKey": True,
        "hasUserVerification": True, "isUserVerified": True, "automaticPresenceSimulation": True}})
    return cdp, found["authenticatorId"]


@test
def single_sign_on_creates_an_account_and_never_takes_one_over(b, env):
    page = b.page(base=SSO)
    page.goto(SSO + "/signin")
    button = page.get_by_role("link", name="Sign in with Acme SSO")
    expect(button).to_be_visible()
    shoot(page, "signin-sso", widths=(1280,), schemes=("light",))
    login = f"sam-{random.randrange(10**9)}@acme.test"
    button.click()
    provider_login(page, login)
    # A first sign-in creates the account (CREATE_USERS) and lands in its inbox.
    expect(page.get_by_role("heading", name="Inbox", level=1)).to_be_visible()
    assert signed_in_email(page) == login
    csp_clean(page)
    page.context.close()
    # A local account with the provider's email is not taken over: the client says why.
    lena = user("Lena", base=SSO)
    page = b.page(base=SSO)
    page.goto(SSO + "/signin")
    page.get_by_role("link", name="Sign in with Acme SSO").click()
    provider_login(page, lena["email"])
    expect(page).to_have_url(re.compile(r"/signin\?error=account_exists_link_first"))
    expect(page.locator("#auth-error")).to_contain_text("An account with this email exists already")
    # Signed in with the password, Lena links the provider from settings.
    password_sign_in(page, lena)
    expect(page.get_by_role("heading", name="Inbox", level=1)).to_be_visible()
    page.goto(SSO + "/settings")
    row = page.locator("#identity-list tr[data-provider=acme]")
    expect(row).to_contain_text("Not linked")
    row.get_by_role("button", name="Link Acme SSO").click()
    # The provider remembers this browser: straight back to the settings, linked.
    expect(page).to_have_url(SSO + "/settings")
    expect(page.locator("#identity-list tr[data-provider=acme]")).to_contain_text(lena["email"])
    expect(page.locator("#security-events")).to_contain_text("Single sign-on linked")
    sign_out(page, SSO)
    page.get_by_role("link", name="Sign in with Acme SSO").click()
    expect(page.get_by_role("heading", name="Inbox", level=1)).to_be_visible()
    assert signed_in_email(page) == lena["email"]
    page.goto(SSO + "/settings")
    expect(page.locator("#security-events tbody tr").first).to_contain_text("single sign-on (acme)")
    page.context.close()


@test
def authenticator_app_recovery_codes_and_the_second_step(b, env):
    tess = user("Tess")
    page = b.page(tess)
    page.goto("/settings")
    expect(page.locator("#totp-state")).to_have_text("Off.")
    page.get_by_role("button", name="Set up an authenticator app").click()
    expect(page.locator("#totp-qr svg path")).to_have_count(1)
    assert page.locator("#totp-qr svg path").get_attribute("d")
    totp = pyotp.TOTP(page.locator("#totp-secret").inner_text())
    page.locator("#totp-code").fill(wrong(totp.now()))
    page.get_by_role("button", name="Turn on").click()
    expect(page.locator("#totp-code-error")).to_contain_text("not right")
    page.locator("#totp-code").fill(totp.at(time.time() - 30))
    page.get_by_role("button", name="Turn on").click()
    codes = page.locator("#recovery-codes li")
    expect(codes).to_have_count(10)
    recovery = codes.all_inner_texts()
    with page.expect_download() as download:
        page.locator("#download-recovery-codes").click()
    with open(download.value.path()) as f:
        saved = f.read()
    assert all(c in saved for c in recovery), (saved, recovery)
    shoot(page, "totp-recovery-codes", widths=(1280, 375), schemes=("light",))
    page.locator("#totp-done").click()
    expect(page.locator("#totp-state")).to_contain_text("10 recovery codes left")
    sign_out(page, OPEN)
    # The second step: a wrong code, then pyotp's code; the same code again is refused.
    password_sign_in(page, tess)
    expect(page.get_by_role("heading", name="Two-step sign-in")).to_be_visible()
    shoot(page, "second-factor", widths=(1280,), schemes=("light", "dark"))
    code = totp.now()
    page.get_by_label("Code from your authenticator app").fill(wrong(code))
    page.get_by_role("button", name="Verify").click()
    expect(page.locator("#second-factor-error")).to_contain_text("not right")
    page.get_by_label("Code from your authenticator app").fill(code)
    page.get_by_role("button", name="Verify").click()
    expect(page.get_by_role("heading", name="Inbox", level=1)).to_be_visible()
    sign_out(page, OPEN)
    password_sign_in(page, tess)
    page.get_by_label("Code from your authenticator app").fill(code)
    page.get_by_role("button", name="Verify").click()
    expect(page.locator("#second-factor-error")).to_contain_text("not right")
    # A recovery code works once.
    page.get_by_role("button", name="Use a recovery code instead").click()
    page.get_by_label("Recovery code").fill(recovery[0])
    page.get_by_role("button", name="Verify").click()
    expect(page.get_by_role("heading", name="Inbox", level=1)).to_be_visible()
    sign_out(page, OPEN)
    password_sign_in(page, tess)
    page.get_by_role("button", name="Use a recovery code instead").click()
    page.get_by_label("Recovery code").fill(recovery[0])
    page.get_by_role("button", name="Verify").click()
    expect(page.locator("#second-factor-error")).to_contain_text("not right")
    page.get_by_role("button", name="Use the authenticator app instead").click()
    page.get_by_label("Code from your authenticator app").fill(totp.at(time.time() + 30))
    page.get_by_role("button", name="Verify").click()
    expect(page.get_by_role("heading", name="Inbox", level=1)).to_be_visible()
    # Settings: nine codes left, and the log says what happened.
    page.goto("/settings")
    expect(page.locator("#totp-state")).to_contain_text("9 recovery codes left")
    log = page.locator("#security-events")
    for text in ("Two-step sign-in turned on", "A wrong second factor", "password and recovery code", "password and app code"):
        expect(log).to_contain_text(text)
    shoot(page, "settings-security", widths=(1280,), schemes=("light",))
    page.context.close()


@test
def passkey_registered_signs_in_alone_and_answers_a_totp_challenge(b, env):
    pia = user("Pia", base=SSO)
    page = b.page(pia, base=SSO)
    cdp, authenticator = virtual_authenticator(page)
    page.goto(SSO + "/settings")
    expect(page.locator("#passkeys")).to_contain_text("No passkeys yet")
    page.locator("#passkey-name").fill("Laptop")
    page.get_by_role("button", name="Add a passkey").click()
    expect(page.locator("#passkey-list")).to_contain_text("Laptop")
    stored = cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator})["credentials"]
    assert len(stored) == 1 and stored[0]["isResidentCredential"], stored
    sign_out(page, SSO)
    # The passkey alone: no email, no password.
    page.get_by_role("button", name="Sign in with a passkey").click()
    expect(page.get_by_role("heading", name="Inbox", level=1)).to_be_visible()
    assert signed_in_email(page) == pia["email"]
    # With TOTP on too, the passkey answers a password sign-in's second step.
    enable_totp(pia, base=SSO)
    sign_out(page, SSO)
    password_sign_in(page, pia)
    expect(page.get_by_role("heading", name="Two-step sign-in")).to_be_visible()
    page.get_by_role("button", name="Use a passkey").click()
    expect(page.get_by_role("heading", name="Inbox", level=1)).to_be_visible()
    page.goto(SSO + "/settings")
    log = page.locator("#security-events")
    expect(log).to_contain_text("Passkey added")
    expect(log).to_contain_text("password and passkey")
    expect(page.locator("#passkey-list")).not_to_contain_text("Never")
    # Removed, it signs in no more.
    page.get_by_role("button", name="Remove Laptop").click()
    page.get_by_role("dialog").get_by_role("button", name="Remove").click()
    expect(page.locator("#passkeys")).to_contain_text("No passkeys yet")
    sign_out(page, SSO)
    page.get_by_role("button", name="Sign in with a passkey").click()
    expect(page.locator("#auth-error")).to_contain_text("not one of this server's accounts")
    page.context.close()


@test
def required_second_factor_is_set_up_before_anything_else(b, env):
    email = f"quinn-{random.randrange(10**9)}@example.com"
    api("POST", "/auth/register", body={"email": email, "password": PASSWORD, "name": "Quinn"}, base=STRICT, expect_status=201)
    page = b.page(base=STRICT)
    page.goto(STRICT + "/signin")
    password_sign_in(page, {"email": email})
    expect(page.get_by_role("heading", name="Set up a second factor")).to_be_visible()
    expect(page.locator(".sidebar")).to_have_count(0)
    shoot(page, "setup-required", widths=(1280, 375), schemes=("light",))
    # A reload keeps the person on the set-up screen.
    page.reload()
    expect(page.get_by_role("heading", name="Set up a second factor")).to_be_visible()
    page.get_by_role("button", name="Set up an authenticator app").click()
    totp = pyotp.TOTP(page.locator("#totp-secret").inner_text())
    page.locator("#totp-code").fill(totp.now())
    page.get_by_role("button", name="Turn on").click()
    expect(page.locator("#recovery-codes li")).to_have_count(10)
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", name="Inbox", level=1)).to_be_visible()
    csp_clean(page)
    page.context.close()


@test
def an_admin_removes_the_second_factors_of_a_lost_phone(b, env):
    ada = env["ada"]
    uma = user("Uma")
    enable_totp(uma)
    page = b.page(ada)
    page.goto("/admin")
    row = page.locator(f"tr[data-user='{uma['id']}']")
    row.get_by_role("button", name="Remove the second factors of Uma").click()
    page.get_by_role("dialog").get_by_role("button", name="Remove").click()
    expect(page.locator(f"tr[data-user='{uma['id']}']")).to_contain_text("None")
    assert api("GET", "/me/totp", uma["token"])["enabled"] is False
    page.context.close()
    # Uma's password alone signs her in again.
    page = b.page()
    page.goto("/signin")
    password_sign_in(page, uma)
    expect(page.get_by_role("heading", name="Inbox", level=1)).to_be_visible()
    page.context.close()


# --- set-up and run -------------------------------------------------------------------------

def column_of(page, name):
    """The board's column whose heading reads `name`."""
    return page.locator(".column", has=page.locator(".column-head h2", has_text=re.compile("^" + re.escape(name) + r"\b")))


def states_of(who, project_id):
    return api("GET", f"/projects/{project_id}/states", who["token"])["items"]


@test
def board_columns_are_the_projects_states(b, env):
    ada = env["ada"]
    p = project(ada, "Flow")
    for name in ("Flow A", "Flow B"):
        task(ada, p["id"], title=name)
    page = b.page(ada)
    page.goto(f"/p/{p['id']}/board")
    expect(page.locator("#board")).to_have_attribute("data-ready", "true")
    expect(page.locator(".column-head h2")).to_have_text(["To do", "In progress", "Done", "Canceled"])
    # A new column, after the last one.
    page.locator("#add-column").click()
    page.locator("#new-column-name").fill("Review")
    page.locator("#new-column-category").select_option("in_progress")
    page.locator("#save-column").click()
    review = column_of(page, "Review")
    expect(review).to_have_count(1)
    expect(page.locator("#board")).to_have_attribute("data-ready", "true")
    review_id = [s for s in states_of(ada, p["id"]) if s["name"] == "Review"][0]["id"]
    # A card dragged into it is in that state (and its category's status); it stays after a reload.
    card_drag(page, page.locator(".card", has_text="Flow A"), review.locator(".cards"))
    expect(review.locator(".card", has_text="Flow A")).to_have_count(1)
    flow_a = api("GET", f"/projects/{p['id']}/tasks?q=flow+a", ada["token"])["items"][0]
    eventually(lambda: api("GET", f"/tasks/{flow_a['id']}", ada["token"])["state_id"] == review_id)
    assert api("GET", f"/tasks/{flow_a['id']}", ada["token"])["status"] == "in_progress"
    page.reload()
    expect(page.locator("#board")).to_have_attribute("data-ready", "true")
    expect(column_of(page, "Review").locator(".card", has_text="Flow A")).to_have_count(1)
    expect(column_of(page, "Review").locator(".count")).to_have_text("1")
    # Renamed in place: its name is a button that turns into a field.
    column_of(page, "Review").locator(".column-name").click()
    page.locator(".column-rename").fill("Code review")
    page.keyboard.press("Enter")
    expect(column_of(page, "Code review")).to_have_count(1)
    eventually(lambda: any(s["name"] == "Code review" for s in states_of(ada, p["id"])))
    # Dragged by its grip to the front of the board (a window wide enough to show all five).
    page.set_viewport_size({"width": 1800, "height": 800})
    expect(page.locator("#board")).to_have_attribute("data-ready", "true")
    grip = column_of(page, "Code review").locator(".column-grip")
    first = column_of(page, "To do").bounding_box()
    gb = grip.bounding_box()
    page.mouse.move(gb["x"] + gb["width"] / 2, gb["y"] + gb["height"] / 2)
    page.mouse.down()
    page.mouse.move(first["x"] + 20, gb["y"] + gb["height"] / 2, steps=10)
    page.mouse.up()
    eventually(lambda: states_of(ada, p["id"])[0]["name"] == "Code review")
    expect(page.locator(".column-head h2").first).to_have_text("Code review")
    page.set_viewport_size({"width": 1280, "height": 800})
    shoot(page, "board-states", widths=(1280,))
    # Deleted, its cards moved to the column chosen.
    menu = column_of(page, "Code review").locator(".column-menu")
    menu.locator("summary").click()
    menu.get_by_role("button", name="Delete…").click()
    expect(page.locator("#move-cards-to")).to_be_visible()
    page.locator("#move-cards-to").select_option(label="Done")
    page.locator("#confirm-delete-column").click()
    expect(column_of(page, "Code review")).to_have_count(0)
    expect(column_of(page, "Done").locator(".card", has_text="Flow A")).to_have_count(1)
    assert [s["name"] for s in states_of(ada, p["id"])] == ["To do", "In progress", "Done", "Canceled"]
    assert api("GET", f"/tasks/{flow_a['id']}", ada["token"])["status"] == "done"
    # The list filters by state and names each row's state.
    page.goto(f"/p/{p['id']}?done=show")
    expect(page.locator("#task-list .row")).to_have_count(2)
    expect(page.locator(f".row[data-id='{flow_a['id']}'] .state-chip")).to_have_text("Done")
    page.locator(".filters summary").click()
    page.locator("#filter-state").select_option(label="Done")
    expect(page.locator("#task-list .row")).to_have_count(1)
    expect(page.locator("#task-list .row")).to_contain_text("Flow A")
    assert "state=" in page.url
    page.context.close()


@test
def subtasks_are_added_ticked_and_counted_on_the_parent_card(b, env):
    ada = env["ada"]
    p = project(ada, "Steps")
    parent = task(ada, p["id"], title="Plan the trip", description="- [ ] passports\n- [ ] tickets\n")
    page = b.page(ada)
    page.goto(f"/p/{p['id']}/board?task={parent['id']}")
    expect(page.locator("#task-title")).to_have_value("Plan the trip")
    card = page.locator(f".card[data-id='{parent['id']}']")
    for title in ("Book the flight", "Pack"):
        page.locator("#new-subtask").fill(title)
        page.locator("#new-subtask").press("Enter")
        expect(page.locator("#subtasks .subtask", has_text=title)).to_have_count(1)
    expect(page.locator("#subtask-progress")).to_have_text("0/2")
    expect(card.locator(".progress")).to_have_text("0/2")
    shoot(page, "task-subtasks", widths=(1280,), schemes=("light",))
    # Ticked: the parent's card says so at once (the subtask's own event brings its parent).
    page.locator("#subtasks .subtask", has_text="Book the flight").locator(".subtask-done").check()
    expect(page.locator("#subtask-progress")).to_have_text("1/2")
    expect(card.locator(".progress")).to_have_text("1/2")
    expect(column_of(page, "Done").locator(".card", has_text="Book the flight")).to_have_count(1)
    # Dragged by its grip: "Pack" above "Book the flight", in the server's order too.
    grip = page.locator("#subtasks .subtask", has_text="Pack").locator(".grip")
    target = page.locator("#subtasks .subtask", has_text="Book the flight").bounding_box()
    gb = grip.bounding_box()
    page.mouse.move(gb["x"] + gb["width"] / 2, gb["y"] + gb["height"] / 2)
    page.mouse.down()
    page.mouse.move(gb["x"] + gb["width"] / 2, target["y"] + 2, steps=6)
    page.mouse.up()
    expect(page.locator("#subtasks .subtask").first).to_contain_text("Pack")
    eventually(lambda: [t["title"] for t in api("GET", f"/projects/{p['id']}/tasks?parent={parent['id']}&sort=position", ada["token"])["items"]] == ["Pack", "Book the flight"])
    # A task list item of the description ticks with a click: an ordinary edit.
    boxes = page.locator("#task-description-view input[type=checkbox]")
    expect(boxes).to_have_count(2)
    boxes.nth(1).check()
    eventually(lambda: api("GET", f"/tasks/{parent['id']}", ada["token"])["description"] == "- [ ] passports\n- [x] tickets\n")
    expect(page.locator("#save-state")).to_have_text("Saved")
    # The other subtask done too: "2/2" on the card, and on the list's row.
    page.locator("#subtasks .subtask", has_text="Pack").locator(".subtask-done").check()
    expect(card.locator(".progress")).to_have_text("2/2")
    page.goto(f"/p/{p['id']}")
    expect(page.locator(f".row[data-id='{parent['id']}'] .progress")).to_have_text("2/2")
    page.context.close()


@test
def a_burst_of_changes_reloads_the_list_once_instead_of_reading_each_task(b, env):
    # An import or a state deleted with its tasks moved brings hundreds of entries at once;
    # reading each task again exhausted Chromium (net::ERR_INSUFFICIENT_RESOURCES at 20,000).
    ada = env["ada"]
    p = project(ada, "Burst")
    review = api("POST", f"/projects/{p['id']}/states", ada["token"], {"name": "Review", "category": "in_progress"})
    doing = next(s for s in states_of(ada, p["id"]) if s["category"] == "in_progress" and s["is_default"])
    many = 150
    with concurrent.futures.ThreadPoolExecutor(max_workers=6) as pool:
        list(pool.map(lambda i: task(ada, p["id"], title=f"Burst {i:03}", state_id=review["id"]), range(many)))
    page = b.page(ada)
    reads = []
    page.on("request", lambda r: reads.append(r.url) if re.search(r"/api/v1/tasks/[0-9a-f-]{36}$", r.url) and r.method == "GET" else None)
    page.goto(f"/p/{p['id']}")
    expect(page.locator("#task-list .row").first).to_be_visible()
    expect(page.locator("body")).to_have_attribute("data-live", "open")
    expect(page.locator("#task-list .row .state-chip", has_text="Review").first).to_be_visible()
    api("DELETE", f"/states/{review['id']}?move_to={doing['id']}", ada["token"], expect_status=204)
    # One reload shows every row in its new state...
    expect(page.locator("#task-list .row .state-chip", has_text="Review")).to_have_count(0, timeout=15_000)
    expect(page.locator("#task-list .row .state-chip", has_text="In progress").first).to_be_visible()
    # ...and the tasks were not read one by one (a window may still bring up to 50 singly).
    assert len(reads) <= 60, f"{len(reads)} single-task reads for a burst of {many} entries"
    page.context.close()


@test
def a_blocked_marker_goes_live_when_the_blocker_is_done(b, env):
    ada, bob, launch = env["ada"], env["bob"], env["launch"]
    p = team_of_two(env, "Waiting")
    waits = task(ada, p["id"], title="Ship the release")
    blocker = task(ada, p["id"], title="Fix the build")
    pa, pb = b.page(ada), b.page(bob)
    pb.goto(f"/p/{p['id']}/board")
    expect(pb.locator("#board")).to_have_attribute("data-ready", "true")
    expect(pb.locator("body")).to_have_attribute("data-live", "open")
    pa.goto(f"/p/{p['id']}/board?task={waits['id']}")
    expect(pa.locator("#task-title")).to_have_value("Ship the release")
    expect(pa.locator("body")).to_have_attribute("data-live", "open")
    # Found by its number: "blocked by #n".
    pa.locator("#relation-kind").select_option("blocked_by")
    pa.locator("#relation-search").fill(f"#{blocker['number']}")
    pa.locator("#relation-matches .match", has_text="Fix the build").click()
    expect(pa.locator("#relations .relation")).to_contain_text("Blocked by")
    expect(pa.locator("#relations .relation")).to_contain_text("Fix the build")
    blocked = lambda page: page.locator(f".card[data-id='{waits['id']}'] .chip.blocked")
    expect(blocked(pa)).to_have_count(1, timeout=10_000)
    expect(blocked(pb)).to_have_count(1, timeout=10_000)
    # Found by words of its title, in another project Ada can see.
    pa.locator("#relation-kind").select_option("relates_to")
    pa.locator("#relation-search").fill("dashboards")
    match = pa.locator("#relation-matches .match", has_text="Watch the dashboards")
    expect(match).to_contain_text("Launch")
    match.click()
    expect(pa.locator("#relations .relation")).to_have_count(2)
    shoot(pa, "task-relations", widths=(1280,), schemes=("dark",))
    # Bob finishes the blocker on his board: the marker goes from both boards, live.
    pb.locator(f".card[data-id='{blocker['id']}']").focus()
    pb.keyboard.press("Shift+ArrowRight")
    pb.locator(f".card[data-id='{blocker['id']}']").focus()
    pb.keyboard.press("Shift+ArrowRight")
    expect(pb.locator(".cards[data-status=done] .card", has_text="Fix the build")).to_have_count(1)
    expect(blocked(pb)).to_have_count(0, timeout=10_000)
    expect(blocked(pa)).to_have_count(0, timeout=10_000)
    assert api("GET", f"/tasks/{waits['id']}", ada["token"])["blocked"] is False
    pa.context.close()
    pb.context.close()


# --- attachments (API.md §20) ---------------------------------------------------------------

DROP_FILES = """([selector, files]) => {
  const dt = new DataTransfer();
  for (const f of files) dt.items.add(new File([Uint8Array.from(atob(f.b64), c => c.charCodeAt(0))], f.name, {type: f.type}));
  const el = document.querySelector(selector);
  el.dispatchEvent(new DragEvent('dragover', {dataTransfer: dt, bubbles: true, cancelable: true}));
  el.dispatchEvent(new DragEvent('drop', {dataTransfer: dt, bubbles: true, cancelable: true}));
}"""

PASTE_IMAGE = """([selector, b64]) => {
  const dt = new DataTransfer();
  dt.items.add(new File([Uint8Array.from(atob(b64), c => c.charCodeAt(0))], 'image.png', {type: 'image/png'}));
  document.querySelector(selector).dispatchEvent(new ClipboardEvent('paste', {clipboardData: dt, bubbles: true, cancelable: true}));
}"""


def b64(data):
    import base64
    return base64.b64encode(data).decode()


@test
def attached_files_are_never_rendered_as_pages_of_the_origin(b, env):
    ada = env["ada"]
    p = project(ada, "Hostile files")
    t = task(ada, p["id"], title="Open me")
    # A script that runs tells the page that framed it (postMessage is not a fetch, so a CSP's
    # default-src cannot hide it) and asks for a URL (seen whenever no CSP stops it).
    probe = "<script>top.postMessage('pwned-{0}','*');fetch('/pwned-{0}');document.title='pwned'</script>"
    hostile = {
        "html": upload(ada, t["id"], "page.html", ("<!DOCTYPE html><html><body>" + probe.format("html") + "</body></html>").encode()),
        "svg": upload(ada, t["id"], "image.svg", ('<svg xmlns="http://www.w3.org/2000/svg" onload="fetch(\'/pwned-svg-onload\')">'
                                                     + probe.format("svg") + "</svg>").encode()),
        "x.png": upload(ada, t["id"], "x.png", ("<html>" + probe.format("fake-png") + "</html>").encode()),
    }
    assert hostile["html"]["content_type"] == "text/html", hostile["html"]
    assert hostile["svg"]["content_type"] == "image/svg+xml", hostile["svg"]
    assert hostile["x.png"]["content_type"] == "text/html", hostile["x.png"]
    page = b.page(ada)
    pwned = []
    page.context.on("request", lambda r: "/pwned" in r.url and pwned.append(r.url))
    listen = "() => { window.pwned = []; addEventListener('message', (e) => window.pwned.push(String(e.data))); }"
    # The detector works: the same probe in a frame with no sandbox reports itself.
    control = page.context.new_page()
    control.evaluate(listen)
    control.evaluate("(html) => { const f = document.createElement('iframe'); f.srcdoc = html; document.body.append(f); }",
                     probe.format("control"))
    control.wait_for_function("() => window.pwned.includes('pwned-control')")
    control.close()
    pwned.clear()
    for kind, attachment in hostile.items():
        url = f"/api/v1/attachments/{attachment['id']}/content"
        # Opened directly: a download, never a page.
        with page.expect_download() as download:
            try:
                page.goto(url)
            except Exception as e:  # a navigation that turns into a download is aborted
                assert "ERR_ABORTED" in str(e) or "Download is starting" in str(e), e
        assert download.value.suggested_filename == attachment["name"], download.value.suggested_filename
        # Framed by the app's own page, and loaded as an image and an object: nothing runs.
        page.goto(f"/p/{p['id']}")
        page.evaluate(listen)
        page.evaluate("""(url) => {
            const frame = document.createElement('iframe'); frame.src = url; document.body.append(frame);
            const img = document.createElement('img'); img.src = url; document.body.append(img);
            const object = document.createElement('object'); object.data = url; document.body.append(object);
        }""", url)
        page.wait_for_timeout(1500)
        assert page.title() != "pwned", kind
        assert page.evaluate("() => window.pwned") == [], kind
    assert not pwned, f"a hostile file ran a script: {pwned}"
    # The real image is shown inline (and is only an image).
    image = upload(ada, t["id"], "real.png", png_bytes(30, 20))
    response = page.goto(f"/api/v1/attachments/{image['id']}/content")
    assert response.headers["content-type"] == "image/png"
    assert response.headers["content-disposition"].startswith("inline")
    assert response.headers["content-security-policy"] == "sandbox; default-src 'none'"
    expect(page.locator("img")).to_have_count(1)
    # The sandbox's refusals are reported as console errors, which this test expects.
    b.errors.clear()


@test
def files_attach_by_button_drop_and_paste_with_progress_thumbnails_and_lightbox(b, env):
    ada = env["ada"]
    p = project(ada, "Screenshots")
    t = task(ada, p["id"], title="Attach things here")
    page = b.page(ada)
    page.goto(f"/p/{p['id']}?task={t['id']}")
    panel = page.locator("#task-panel")
    expect(panel.get_by_role("heading", name="Attachments")).to_be_visible()
    # The button (a file chooser), then a drop anywhere on the panel.
    page.set_input_files("#attach-input", files=[{"name": "notes.txt", "mimeType": "text/plain", "buffer": b"remember the milk"}])
    expect(page.locator("#attachments .attachment-name", has_text="notes.txt")).to_be_visible()
    page.evaluate(DROP_FILES, ["#task-panel", [{"name": "wide.png", "type": "image/png", "b64": b64(png_bytes(800, 400))}]])
    expect(page.locator("#attachments .attachment-name", has_text="wide.png")).to_be_visible()
    # The thumbnail arrives when the job has made it.
    expect(page.locator("#attachments img.thumb")).to_have_count(1, timeout=20_000)
    expect(panel.get_by_role("heading", name="Attachments (2)")).to_be_visible()
    # A paperclip on the row.
    expect(page.locator(f".row[data-id='{t['id']}'] .attachment-count")).to_have_text("2")
    axe(page, "task panel with files")

    # The lightbox shows the image; Esc closes it and not the task.
    page.get_by_role("button", name="View wide.png").click()
    lightbox = page.get_by_role("dialog")
    expect(lightbox.locator("img.lightbox-image")).to_have_attribute("alt", "wide.png")
    page.wait_for_function("() => document.querySelector('img.lightbox-image').naturalWidth === 800")
    axe(page, "lightbox")
    page.keyboard.press("Escape")
    expect(lightbox).to_have_count(0)
    expect(panel).to_be_visible()
    # Everything else is a download link.
    link = page.locator("#attachments a.attachment-name", has_text="notes.txt")
    expect(link).to_have_attribute("download", "notes.txt")

    # A screenshot pasted into the comment box goes with the comment.
    page.locator("#comment-body").fill("Here is what I see")
    page.evaluate(PASTE_IMAGE, ["#comment-body", b64(png_bytes(40, 30, (200, 30, 30)))])
    expect(page.locator("#staged-files li")).to_have_count(1)
    page.locator("#send-comment").click()
    comment = page.locator("#comments .comment").first
    expect(comment.locator(".attachments .attachment-name")).to_have_count(1)
    expect(comment.locator(".attachments .attachment-name")).to_contain_text("screenshot-")
    # A file dropped onto a comment belongs to that comment.
    page.evaluate(DROP_FILES, ["#comments .comment", [{"name": "log.txt", "type": "text/plain", "b64": b64(b"line 1")}]])
    expect(comment.locator(".attachments .attachment-name", has_text="log.txt")).to_be_visible()
    saved = api("GET", f"/tasks/{t['id']}/attachments", ada["token"])["items"]
    assert sorted(a["comment_id"] is not None for a in saved) == [False, False, True, True], saved
    shoot(page, "task-attachments", schemes=("light",))

    # A slow upload shows its progress and can be cancelled. Whether anything reached the server
    # is not this test's to say: in full runs Chromium's upload throttling lets the whole body
    # through while the bar still shows a few percent, and a cancel after the server has every
    # byte cannot undo it. That a body broken off keeps nothing is shown against the real server
    # by attachments::an_upload_broken_off_leaves_nothing; a whole one kept is cleaned up here.
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    size = 3 * 1024 * 1024
    cdp.send("Network.emulateNetworkConditions", {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": 64 * 1024})
    page.set_input_files("#attach-input", files=[{"name": "slow.bin", "mimeType": "application/octet-stream", "buffer": os.urandom(size)}])
    bar = page.get_by_role("progressbar", name="Uploading slow.bin")
    expect(bar).to_be_visible()
    page.wait_for_function("() => { const b = document.querySelector('#uploads progress'); return b && b.value > 0; }")
    page.get_by_role("button", name="Cancel upload of slow.bin").click()
    expect(bar).to_have_count(0)
    cdp.send("Network.emulateNetworkConditions", {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1})
    page.wait_for_timeout(500)
    kept = [a for a in api("GET", f"/tasks/{t['id']}/attachments", ada["token"])["items"] if a["name"] == "slow.bin"]
    assert all(a["size"] == size for a in kept), kept
    for a in kept:
        api("DELETE", f"/attachments/{a['id']}", ada["token"], expect_status=204)
    eventually(lambda: page.locator("#attachments .attachment-name", has_text="slow.bin").count() == 0)
    # Deleting a file.
    page.get_by_role("button", name="Delete notes.txt").click()
    page.get_by_role("dialog").get_by_role("button", name="Delete file").click()
    expect(page.locator("#attachments .attachment-name", has_text="notes.txt")).to_have_count(0)
    eventually(lambda: "notes.txt" not in [a["name"] for a in api("GET", f"/tasks/{t['id']}/attachments", ada["token"])["items"]])


@test
def every_weekday_repeats_and_completing_shows_the_next_one(b, env):
    tim = user("Tim")
    p = project(tim, "Repeats")
    t = task(tim, p["id"], title="Water the plants", due_date="2027-01-08")  # a Friday
    page = b.page(tim)
    # The person's time zone, chosen in settings, is the one due times are in.
    page.goto("/settings")
    page.locator("#time-zone").select_option("Europe/Berlin")
    expect(page.locator("#time-zone-state")).to_have_text("Saved: times are in Europe/Berlin.")
    assert api("GET", "/me", tim["token"])["time_zone"] == "Europe/Berlin"
    page.goto(f"/p/{p['id']}?task={t['id']}")
    expect(page.locator("#task-due-zone")).to_contain_text("Europe/Berlin")
    repeat = page.locator("#task-recurrence")
    # The common choices are worded for the due date.
    for words in ("Every week on Friday", "Monthly on the 8th", "Monthly on the last Friday", "3 days after completion"):
        expect(repeat.locator("option", has_text=words)).to_have_count(1)
    repeat.select_option(label="Every weekday")
    expect(page.locator("#task-recurrence-shown")).to_have_text("Repeats every weekday · RRULE:FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR")
    page.locator("#task-due_time").fill("09:30")
    page.locator("#task-due_time").dispatch_event("change")
    expect(page.locator("#save-state")).to_have_text("Saved")
    eventually(lambda: api("GET", f"/tasks/{t['id']}", tim["token"])["due_time"] == "09:30")
    saved = api("GET", f"/tasks/{t['id']}", tim["token"])
    assert saved["recurrence"] == {"rule": "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR", "from": "due"}, saved
    # A custom rule the server refuses says why under the field, and nothing is saved.
    repeat.select_option(label="Custom rule…")
    page.locator("#task-recurrence-rule").fill("FREQ=HOURLY")
    page.locator("#task-recurrence-rule").dispatch_event("change")
    expect(page.locator("#task-recurrence-error")).not_to_have_text("")
    assert api("GET", f"/tasks/{t['id']}", tim["token"])["recurrence"]["rule"] == "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR"
    page.locator("#task-recurrence").select_option(label="Every weekday")
    expect(page.locator("#save-state")).to_have_text("Saved")
    shoot(page, "recurrence", widths=(1280,), schemes=("light",))
    page.locator("#close-task").click()
    expect(page.locator("#task-panel")).to_have_count(0)
    # Completing it brings the next one, due the next weekday, into the list without a reload.
    page.locator(f".row[data-id='{t['id']}'] .status-toggle").click()
    rows = page.locator(f"#task-list .row:not([data-id='{t['id']}'])", has_text="Water the plants")
    expect(rows).to_have_count(1)
    expect(rows).to_contain_text("Jan 11, 2027")
    expect(page.locator(f".row[data-id='{t['id']}']")).to_have_class(re.compile(r"\bstatus-done\b"))
    nxt = rows.get_attribute("data-id")
    following = api("GET", f"/tasks/{nxt}", tim["token"])
    assert following["due_date"] == "2027-01-11" and following["due_time"] == "09:30", following
    assert following["recurrence"]["rule"] == "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR", following
    assert api("GET", f"/tasks/{t['id']}", tim["token"])["recurrence"] is None
    # Quick add understands a repetition and a time, shows them as chips, and the server takes them.
    page.locator("#quick-add").click()
    page.keyboard.type("Standup every weekday at 9:00")
    chips = page.locator("#quick-add-chips")
    expect(chips.locator(".chip-repeat")).to_have_text("Repeats: Every weekday")
    expect(chips.locator(".chip-time")).to_have_text("At 09:00")
    expect(page.locator("#quick-add-title")).to_have_text("Title: Standup")
    page.keyboard.press("Enter")
    expect(page.locator("#task-list .row", has_text="Standup")).to_have_count(1)
    made = [x for x in api("GET", f"/projects/{p['id']}/tasks", tim["token"])["items"] if x["title"] == "Standup"]
    assert len(made) == 1 and made[0]["due_time"] == "09:00" and made[0]["due_date"], made
    assert made[0]["recurrence"] == {"rule": "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR", "from": "due"}, made
    page.context.close()


@test
def reminders_are_added_and_removed_in_the_task_panel(b, env):
    rita = user("Rita")
    p = project(rita, "Reminded")
    t = task(rita, p["id"], title="Send the invoices", due_date="2027-03-10")
    page = b.page(rita)
    page.goto(f"/p/{p['id']}?task={t['id']}")
    add = page.locator("#task-reminder-add")
    add.select_option(label="1 day before")
    expect(page.locator("#save-state")).to_have_text("Saved")
    # An absolute one, at a date and time of its own.
    add.select_option(label="At a date and time…")
    page.locator("#task-reminder-at").fill("2027-03-01T08:30")
    page.locator("#task-reminder-at-add").click()
    expect(page.locator("#task-reminders .reminder")).to_have_count(2)
    expect(page.locator("#save-state")).to_have_text("Saved")
    saved = lambda: api("GET", f"/tasks/{t['id']}", rita["token"])["reminders"]
    eventually(lambda: len(saved()) == 2)
    reminders = saved()
    assert {"before_minutes": 1440} in [{k: v for k, v in r.items() if k == "before_minutes"} for r in reminders], reminders
    assert all(r["fire_at"] for r in reminders), reminders
    # A choice already taken is not offered twice.
    expect(add.locator("option", has_text="1 day before")).to_be_disabled()
    # Removed, and after a reload the list is what the server keeps.
    page.locator("#task-reminders .reminder", has_text="1 day before").locator(".reminder-remove").click()
    expect(page.locator("#save-state")).to_have_text("Saved")
    eventually(lambda: len(saved()) == 1)
    assert "at" in saved()[0], saved()
    page.reload()
    expect(page.locator("#task-reminders .reminder")).to_have_count(1)
    expect(page.locator("#task-reminders .reminder")).not_to_contain_text("day before")
    # Without a due date only a date and time of its own can be chosen.
    page.locator("#task-due_date").fill("")
    page.locator("#task-due_date").dispatch_event("change")
    expect(add.locator("option", has_text="1 hour before")).to_be_disabled()
    expect(add.locator("option", has_text="At a date and time…")).to_be_enabled()
    page.context.close()


@test
def the_calendar_feed_url_is_made_replaced_and_stopped_in_settings(b, env):
    cal = user("Cal")
    p = project(cal, "Dated")
    task(cal, p["id"], title="File the taxes", due_date="2027-04-15", assignee_id=cal["id"])

    def fetch(url):
        # The URL names the server by DOCKET_PUBLIC_URL, which this test server does not set.
        url = OPEN + urlparse(url).path
        try:
            with urllib.request.urlopen(url, timeout=10) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, ""

    page = b.page(cal)
    page.goto("/settings")
    page.locator("#calendar-feed-create").click()
    url = page.locator("#calendar-feed-url").input_value()
    assert "/calendar/" in url and url.endswith(".ics"), url
    status, body = fetch(url)
    assert status == 200 and "File the taxes" in body.replace("\r\n ", "") and "BEGIN:VCALENDAR" in body, (status, body[:300])
    # Replacing it ends the old URL.
    page.locator("#calendar-feed-create").click()
    expect(page.locator("#calendar-feed-state")).to_contain_text("any earlier one no longer works")
    newer = page.locator("#calendar-feed-url").input_value()
    assert newer != url
    assert fetch(url)[0] == 404
    assert fetch(newer)[0] == 200
    # Stopping it, after asking, ends the feed.
    page.locator("#calendar-feed-stop").click()
    page.get_by_role("dialog").get_by_role("button", name="Stop the feed").click()
    expect(page.locator("#calendar-feed-state")).to_have_text("The feed is stopped.")
    expect(page.locator("#calendar-feed-url")).to_have_count(0)
    assert fetch(newer)[0] == 404
    page.context.close()


@test
def a_timer_runs_in_the_top_bar_across_a_reload_and_the_time_page_lists_it(b, env):
    tess = user("Tess")
    p = project(tess, "Hours")
    t = task(tess, p["id"], title="Write the report")
    page = b.page(tess)
    page.goto(f"/p/{p['id']}?task={t['id']}")
    expect(page.locator("#top-timer")).to_be_hidden()
    page.locator("#task-timer").click()
    expect(page.locator("#task-timer")).to_have_text("Stop timer")
    top = page.locator("#top-timer")
    expect(top).to_be_visible()
    expect(page.locator("#top-timer-task")).to_have_text(f"#{t['number']} Write the report")
    expect(page.locator("#top-timer-elapsed")).to_have_text(re.compile(r"^0:\d\d:\d\d$"))
    # A reload reads the running timer from the API.
    page.reload()
    expect(page.locator("#top-timer-task")).to_have_text(f"#{t['number']} Write the report")
    expect(page.locator("#task-timer")).to_have_text("Stop timer")
    shoot(page, "timer-panel", widths=(1280,), schemes=("light",))
    page.locator("#close-task").click()
    expect(page.locator("#task-panel")).to_have_count(0)
    shoot(page, "timer", widths=(1280, 375), schemes=("light",))
    page.locator("#top-timer-stop").click()
    expect(top).to_be_hidden()
    page.locator(f".row[data-id='{t['id']}']").click()
    expect(page.locator("#task-timer")).to_have_text("Start timer")
    entries = api("GET", "/me/time", tess["token"])["items"]
    assert len(entries) == 1 and entries[0]["ended_at"] is not None, entries
    # Time added by hand counts in the task's total.
    page.locator("#task-add-time").click()
    page.locator("#add-time-minutes").fill("1h 30m")
    page.locator("#add-time-note").fill("Drafting")
    page.locator("#add-time-save").click()
    expect(page.locator("#task-time-spent")).to_have_text("1 h 30 min")
    # The Time page: both entries, the server's total, and the CSV of the same.
    page.get_by_role("link", name="Time", exact=True).click()
    expect(page).to_have_url(re.compile(r"/time$"))
    rows = page.locator("#time-entries .time-entry")
    expect(rows).to_have_count(2)
    expect(rows.filter(has_text="Drafting")).to_contain_text(f"#{t['number']} Write the report")
    expect(page.locator("#time-total")).to_have_text("Total: 1 h 30 min")
    csv = page.request.get(OPEN + page.locator("#time-csv").get_attribute("href"))
    assert csv.ok and csv.headers["content-type"].startswith("text/csv"), csv.status
    lines = csv.text().strip().splitlines()
    assert len(lines) == 3 and t["id"] in lines[1] and "Drafting" in csv.text(), lines
    # A range without entries says so, with a zero total.
    page.locator("#time-from").fill("2020-01-01")
    page.locator("#time-from").dispatch_event("change")
    page.locator("#time-to").fill("2020-01-31")
    page.locator("#time-to").dispatch_event("change")
    expect(page.locator("#time-total")).to_have_text("Total: 0 min")
    expect(page).to_have_url(re.compile(r"from=2020-01-01"))
    page.goto("/time")
    expect(rows).to_have_count(2)
    shoot(page, "time", widths=(1280, 375), schemes=("light", "dark"))
    page.context.close()


@test
def upcoming_week_shows_days_as_columns_with_their_tasks(b, env):
    wes = user("Wes")
    p = project(wes, "Days")
    page = b.page(wes)
    page.goto("/upcoming")
    today = page.evaluate("() => { const d = new Date(); return [d.getFullYear(), d.getMonth() + 1, d.getDate()]; }")
    day0 = datetime.date(*today)
    iso = lambda d: d.isoformat()
    task(wes, p["id"], title="Today's task", due_date=iso(day0))
    task(wes, p["id"], title="Late call", due_date=iso(day0 + datetime.timedelta(days=2)), due_time="16:00")
    task(wes, p["id"], title="Early call", due_date=iso(day0 + datetime.timedelta(days=2)), due_time="08:30")
    task(wes, p["id"], title="Next week's task", due_date=iso(day0 + datetime.timedelta(days=8)))
    task(wes, p["id"], title="Finished", due_date=iso(day0), status="done")
    page.get_by_role("link", name="Week", exact=True).click()
    expect(page).to_have_url(re.compile(r"/upcoming/week$"))
    days = page.locator("#week .week-day")
    expect(days).to_have_count(7)
    expect(days.nth(0)).to_have_class(re.compile(r"\btoday\b"))
    expect(days.nth(0).locator(".week-title")).to_have_text(["Today's task"])
    expect(days.nth(0).locator(".week-task")).to_contain_text("Days #1")
    # A day's tasks in the order of their times.
    expect(days.nth(2).locator(".week-title")).to_have_text(["Early call", "Late call"])
    expect(days.nth(2).locator(".week-time")).to_have_text(["08:30", "16:00"])
    expect(page.locator("#week")).not_to_contain_text("Next week's task")
    expect(page.locator("#week")).not_to_contain_text("Finished")
    shoot(page, "week", widths=(1280, 375), schemes=("light", "dark"))
    page.locator("#week-next").click()
    expect(page).to_have_url(re.compile(r"/upcoming/week\?from=" + iso(day0 + datetime.timedelta(days=7))))
    expect(days.nth(1).locator(".week-title")).to_have_text(["Next week's task"])
    # A task opens in its project with its panel.
    days.nth(1).get_by_role("link", name="Next week's task").click()
    expect(page.locator("#task-title")).to_have_value("Next week's task")

def fields_of(who, project_id):
    return api("GET", f"/projects/{project_id}/fields", who["token"])["items"]


def drag_to(page, handle, target):
    """Drags `handle` by the pointer to just above the middle of `target`."""
    a, t = handle.bounding_box(), target.bounding_box()
    page.mouse.move(a["x"] + a["width"] / 2, a["y"] + a["height"] / 2)
    page.mouse.down()
    page.mouse.move(t["x"] + 20, t["y"] + t["height"] / 2 - 6, steps=8)
    page.mouse.move(t["x"] + 20, t["y"] + 4, steps=4)
    page.mouse.up()


@test
def field_settings_add_reorder_by_drag_and_keys_option_colours_and_removal(b, env):
    """Issue 24: Settings → Fields adds fields of several kinds, reorders them by drag and by the
    arrow keys, gives options colours, and removes an option in use only after asking."""
    ada = env["ada"]
    shaped = project(ada, "Shaped")
    page = b.page(ada)
    page.goto(f"/p/{shaped['id']}/settings")
    expect(page.locator("#no-fields")).to_be_visible()
    for n, (name, kind) in enumerate((("Size", "select"), ("Points", "number"), ("QA date", "date"))):
        page.locator("#field-new-name").fill(name)
        page.locator("#field-new-kind").select_option(kind)
        page.get_by_role("button", name="Add field").click()
        expect(page.locator("#fields .field-item")).to_have_count(n + 1)
        expect(page.locator("#field-new-name")).to_be_focused()
    assert [f["name"] for f in fields_of(ada, shaped["id"])] == ["Size", "Points", "QA date"]
    # A duplicate name is refused in words under the form, and what was typed stays.
    page.locator("#field-new-name").fill("size")
    page.get_by_role("button", name="Add field").click()
    expect(page.locator("#field-new-error")).not_to_be_empty()
    expect(page.locator("#field-new-name")).to_have_value("size")
    # Options with colours.
    size = page.locator("#fields .field-item").filter(has=page.get_by_label("Name of the field Size"))
    size.get_by_role("button", name="Add option").click()
    size.get_by_label("Name of option 1").fill("Small")
    size.get_by_label("Colour of option 1").fill("#d03030")
    size.get_by_role("button", name="Add option").click()
    size.get_by_label("Name of option 2").fill("Large")
    size.get_by_label("Colour of option 2").fill("#2060c0")
    size.get_by_role("button", name="Save options").click()
    eventually(lambda: len(fields_of(ada, shaped["id"])[0].get("options") or []) == 2)
    options = fields_of(ada, shaped["id"])[0]["options"]
    assert [(o["name"], o["color"]) for o in options] == [("Small", "#d03030"), ("Large", "#2060c0")], options
    expect(page.locator("#fields .field-item").first.locator("summary")).to_have_text("Options (2)")
    # Reorder by drag: QA date above Size.
    items = page.locator("#fields .field-item")
    drag_to(page, page.get_by_role("button", name="Move the field QA date (arrow keys)"), items.first)
    eventually(lambda: [f["name"] for f in fields_of(ada, shaped["id"])] == ["QA date", "Size", "Points"])
    expect(items.first.get_by_label("Name of the field QA date")).to_be_visible()
    # The list is drawn again after the server's answer, the moved grip focused: only then is
    # the next key the person's (a grip focused before that redraw is replaced by it).
    expect(page.get_by_role("button", name="Move the field QA date (arrow keys)")).to_be_focused()
    # Reorder by keyboard: Points up one, the grip keeps the focus.
    grip = page.get_by_role("button", name="Move the field Points (arrow keys)")
    grip.focus()
    page.keyboard.press("ArrowUp")
    eventually(lambda: [f["name"] for f in fields_of(ada, shaped["id"])] == ["QA date", "Points", "Size"])
    # Drawn again (Points second on screen too), and the grip focused there.
    expect(items.nth(1).get_by_label("Name of the field Points")).to_be_visible()
    expect(page.get_by_role("button", name="Move the field Points (arrow keys)")).to_be_focused()
    # Rename in place; required.
    page.get_by_label("Name of the field Points").fill("Story points")
    page.get_by_label("Name of the field Points").press("Tab")
    eventually(lambda: fields_of(ada, shaped["id"])[1]["name"] == "Story points")
    page.locator(".field-item").nth(1).get_by_label("Required").check()
    eventually(lambda: fields_of(ada, shaped["id"])[1]["required"] is True)
    shoot(page, "field-settings", widths=(1280, 375), schemes=("light", "dark"))
    # Removing an option a task holds asks first, then clears that value.
    size_field = fields_of(ada, shaped["id"])[2]
    small = size_field["options"][0]["id"]
    t = task(ada, shaped["id"], title="Sized", fields={size_field["id"]: small, fields_of(ada, shaped["id"])[1]["id"]: 3})
    size = page.locator("#fields .field-item").filter(has=page.get_by_label("Name of the field Size"))
    size.locator("summary").click()
    size.get_by_role("button", name="Remove option 1").click()
    size.get_by_role("button", name="Save options").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("Remove options in use?")
    dialog.get_by_role("button", name="Cancel").click()
    assert len(fields_of(ada, shaped["id"])[2]["options"]) == 2
    size.get_by_role("button", name="Save options").click()
    page.get_by_role("dialog").get_by_role("button", name="Remove and clear values").click()
    eventually(lambda: len(fields_of(ada, shaped["id"])[2]["options"]) == 1)
    after = api("GET", f"/tasks/{t['id']}", ada["token"])
    assert size_field["id"] not in after["fields"], after
    # Deleting a field asks, then it is gone.
    page.get_by_role("button", name="Delete QA date").click()
    page.get_by_role("dialog").get_by_role("button", name="Delete field").click()
    eventually(lambda: [f["name"] for f in fields_of(ada, shaped["id"])] == ["Story points", "Size"])
    expect(page.locator("#fields .field-item")).to_have_count(2)
    axe(page, "field settings")
    csp_clean(page)
    page.context.close()


@test
def select_field_set_on_a_task_filters_the_list_and_a_saved_view_reopens_it(b, env):
    """Issue 24's scenario: add a select field, set it on a task, filter the list by it, save the
    view, and open it again from the sidebar after a reload."""
    ada, bob = env["ada"], env["bob"]
    team = project(ada, "Teams")
    member(ada, team["id"], bob, "editor")
    alpha = task(ada, team["id"], title="Alpha task")
    task(ada, team["id"], title="Beta task")
    page = b.page(ada)
    page.goto(f"/p/{team['id']}/settings")
    page.locator("#field-new-name").fill("Team")
    page.locator("#field-new-kind").select_option("select")
    page.get_by_role("button", name="Add field").click()
    item = page.locator("#fields .field-item")
    expect(item).to_have_count(1)
    item.get_by_role("button", name="Add option").click()
    item.get_by_label("Name of option 1").fill("Web")
    item.get_by_label("Colour of option 1").fill("#1f8a70")
    item.get_by_role("button", name="Add option").click()
    item.get_by_label("Name of option 2").fill("API")
    item.get_by_role("button", name="Save options").click()
    eventually(lambda: len(fields_of(ada, team["id"])[0].get("options") or []) == 2)
    field = fields_of(ada, team["id"])[0]
    web = field["options"][0]["id"]
    # A link field, made through the API: a bad value is refused under its own control.
    link = api("POST", f"/projects/{team['id']}/fields", ada["token"], {"name": "Spec", "kind": "url"}, expect_status=201)
    # Set it on a task in the panel.
    page.goto(f"/p/{team['id']}?task={alpha['id']}")
    panel = page.locator("#task-panel")
    panel.get_by_label("Team").select_option(label="Web")
    eventually(lambda: api("GET", f"/tasks/{alpha['id']}", ada["token"])["fields"].get(field["id"]) == web)
    panel.get_by_label("Spec").fill("not a link")
    panel.get_by_label("Spec").press("Enter")
    expect(panel.locator(f"#task-field-{link['id']}-error")).not_to_be_empty()
    expect(panel.get_by_label("Spec")).to_have_value("not a link")
    panel.get_by_label("Spec").fill("https://example.com/spec")
    panel.get_by_label("Spec").press("Enter")
    eventually(lambda: api("GET", f"/tasks/{alpha['id']}", ada["token"])["fields"].get(link["id"]) == "https://example.com/spec")
    expect(panel.locator(f"#task-field-{link['id']}-error")).to_be_empty()
    expect(panel.get_by_label("Spec")).not_to_have_attribute("aria-invalid", "true")
    shoot(page, "task-panel-fields", widths=(1280,), schemes=("light", "dark"))
    page.keyboard.press("Escape")
    page.keyboard.press("Escape")
    expect(panel).to_have_count(0)
    # Filter the list by it; the URL carries the filter; the column shows the value.
    rows = page.locator("#task-list .row")
    expect(rows).to_have_count(2)
    page.locator("summary", has_text="Filters").click()
    page.locator(f"#filter-field-{field['id']}").select_option(label="Web")
    expect(page).to_have_url(re.compile(re.escape(f"field.{field['id']}={web}")))
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Alpha task")
    expect(page.locator("#list-count")).to_have_text("1 open")
    page.locator("#columns-picker summary").click()
    page.locator(f"#column-{field['id']}").check()
    expect(rows.first.locator(f".field-cell[data-field='{field['id']}']")).to_have_text("Web")
    # Sorted by the field, also in the URL.
    page.locator("#filter-sort").select_option(f"-field.{field['id']}")
    expect(page).to_have_url(re.compile(re.escape(f"sort=-field.{field['id']}")))
    filtered = page.url
    shoot(page, "list-field-column", widths=(1280, 375), schemes=("light",))
    # Save the view, shared with the project.
    page.get_by_role("button", name="Save view").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("Name").fill("Web work")
    dialog.get_by_label("Share with the project's members").check()
    dialog.get_by_role("button", name="Save view").click()
    expect(page.get_by_role("link", name="Web work")).to_be_visible()
    views = api("GET", f"/projects/{team['id']}/views", ada["token"])["items"]
    assert [(v["name"], v["shared"], v["query"].get(f"field.{field['id']}")) for v in views] == [("Web work", True, web)], views
    # Reload elsewhere, then open the view from the sidebar: the same filtered list.
    page.goto(f"/p/{team['id']}")
    expect(rows).to_have_count(2)
    page.reload()
    page.get_by_role("link", name="Web work").click()
    expect(page).to_have_url(re.compile(re.escape(f"field.{field['id']}={web}")))
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Alpha task")
    expect(page.get_by_role("link", name="Web work")).to_have_attribute("aria-current", "page")
    assert sorted(urlparse(page.url).query.split("&")) == sorted(urlparse(filtered).query.split("&")), (page.url, filtered)
    # Bob, a member, sees the shared view; a personal one of Ada's stays hers.
    page.get_by_role("button", name="Save view").click()
    page.get_by_role("dialog").get_by_label("Name").fill("Mine only")
    page.get_by_role("dialog").get_by_role("button", name="Save view").click()
    expect(page.locator(".my-views").get_by_role("link", name=re.compile("Mine only"))).to_be_visible()
    other = b.page(bob)
    other.goto(f"/p/{team['id']}")
    expect(other.get_by_role("link", name="Web work")).to_be_visible()
    expect(other.get_by_role("link", name=re.compile("Mine only"))).to_have_count(0)
    other.context.close()
    # Rename and delete from the view's menu.
    page.get_by_role("button", name="Rename or delete the view Web work").click()
    page.get_by_role("dialog").get_by_label("Name").fill("Web team")
    page.get_by_role("dialog").get_by_role("button", name="Rename").click()
    expect(page.get_by_role("link", name="Web team")).to_be_visible()
    page.get_by_role("button", name="Rename or delete the view Web team").click()
    page.get_by_role("dialog").get_by_role("button", name="Delete view").click()
    page.get_by_role("dialog").get_by_role("button", name="Delete view").click()
    expect(page.get_by_role("link", name="Web team")).to_have_count(0)
    assert [v["name"] for v in api("GET", f"/projects/{team['id']}/views", ada["token"])["items"]] == ["Mine only"]
    axe(page, "list with a field column and saved views")
    csp_clean(page)
    page.context.close()


@test
def required_fields_are_asked_for_when_quick_add_or_a_new_card_lacks_them(b, env):
    """Issue 24: quick add and the board's new card know no fields; in a project with required
    fields the server's 422 opens a dialog with those fields' controls, and the task is created
    with their values (Cancel creates nothing)."""
    ada = env["ada"]
    strict = project(ada, "Strict")
    area = api("POST", f"/projects/{strict['id']}/fields", ada["token"],
               {"name": "Area", "kind": "select", "required": True,
                "options": [{"name": "Web", "color": "#1f8a70"}, {"name": "API", "color": "#2060c0"}]},
               expect_status=201)
    points = api("POST", f"/projects/{strict['id']}/fields", ada["token"],
                 {"name": "Points", "kind": "number", "required": True}, expect_status=201)
    api("POST", f"/projects/{strict['id']}/fields", ada["token"], {"name": "Notes", "kind": "text"}, expect_status=201)
    web = area["options"][0]["id"]
    tasks_of = lambda: api("GET", f"/projects/{strict['id']}/tasks", ada["token"])["items"]
    page = b.page(ada)
    page.goto(f"/p/{strict['id']}")
    rows = page.locator("#task-list .row")
    page.locator("#quick-add").fill("Fix the sign-in page")
    page.keyboard.press("Enter")
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("Required fields")
    # Only the required fields are asked for; Cancel adds nothing and keeps what was typed.
    expect(dialog.get_by_label("Area")).to_be_visible()
    expect(dialog.get_by_label("Points")).to_be_visible()
    expect(dialog.get_by_label("Notes")).to_have_count(0)
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_have_count(0)
    assert tasks_of() == []
    expect(page.locator("#quick-add")).to_have_value("Fix the sign-in page")
    page.locator("#quick-add").press("Enter")
    dialog.get_by_label("Area").select_option(label="Web")
    dialog.get_by_role("button", name="Add task").click()
    # An empty required field is said under it; nothing is sent.
    expect(dialog.locator(f"#task-field-{points['id']}-error")).to_have_text("must have a value")
    assert tasks_of() == []
    dialog.get_by_label("Points").fill("3")
    axe(page, "required fields dialog")
    dialog.get_by_role("button", name="Add task").click()
    expect(dialog).to_have_count(0)
    expect(rows.filter(has_text="Fix the sign-in page")).to_have_count(1)
    expect(page.locator("#quick-add")).to_have_value("")
    [made] = tasks_of()
    assert made["fields"] == {area["id"]: web, points["id"]: 3}, made
    # The board's new card asks the same way.
    page.goto(f"/p/{strict['id']}/board")
    expect(page.locator("#board")).to_have_attribute("data-ready", "true")
    column = page.locator(".column").first
    column.get_by_role("button", name=re.compile("^Add a task to")).click()
    page.locator(".new-card-input").fill("Document the API")
    page.locator(".new-card-input").press("Enter")
    dialog.get_by_label("Area").select_option(label="API")
    dialog.get_by_label("Points").fill("5")
    dialog.get_by_role("button", name="Add task").click()
    expect(dialog).to_have_count(0)
    expect(column.locator(".card", has_text="Document the API")).to_have_count(1)
    card = next(t for t in tasks_of() if t["title"] == "Document the API")
    assert card["fields"] == {area["id"]: area["options"][1]["id"], points["id"]: 5}, card

def a_project_marked_as_template_starts_a_new_project_with_its_tasks(b, env):
    """Issue 24: "Use as template" in project settings; the new-project dialog then offers the
    template and which parts to copy; the new project opens with the template's tasks."""
    ada = env["ada"]
    kit = project(ada, "Sprint kit")
    for title in ("Plan the sprint", "Run the retro"):
        task(ada, kit["id"], title=title, labels=["ritual"])
    page = b.page(ada)
    page.goto(f"/p/{kit['id']}/settings")
    switch = page.get_by_role("switch", name="Use as template")
    expect(switch).not_to_be_checked()
    switch.check()
    expect(page.locator("#project-template-state")).to_have_text("Saved: offered as a template.")
    assert api("GET", f"/projects/{kit['id']}", ada["token"])["is_template"] is True
    listed = api("GET", "/projects?is_template=true", ada["token"])["items"]
    assert [p["name"] for p in listed] == ["Sprint kit"], listed
    axe(page, "project settings with the template switch")
    # The dialog: a blank project is the default; choosing the template shows the parts.
    page.get_by_role("button", name="New project").click()
    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_label("Blank project")).to_be_checked()
    expect(dialog.get_by_label("Tasks")).to_be_hidden()
    dialog.get_by_label("Sprint kit").check()
    expect(dialog.get_by_label("Tasks")).to_be_checked()
    dialog.get_by_label("Shared views").uncheck()
    dialog.get_by_label("Name", exact=True).fill("Sprint 12")
    shoot(page, "new-project-from-template", widths=(1280, 375), schemes=("light",))
    axe(page, "new project dialog with templates")
    dialog.get_by_role("button", name="Create project").click()
    expect(page.get_by_role("heading", name="Sprint 12", level=1)).to_be_visible()
    rows = page.locator("#task-list .row")
    expect(rows).to_have_count(2)
    expect(rows.filter(has_text="Plan the sprint")).to_have_count(1)
    expect(rows.filter(has_text="Run the retro")).to_have_count(1)
    made = next(p for p in api("GET", "/projects", ada["token"])["items"] if p["name"] == "Sprint 12")
    assert made["is_template"] is False, made
    copies = api("GET", f"/projects/{made['id']}/tasks", ada["token"])["items"]
    assert sorted(t["title"] for t in copies) == ["Plan the sprint", "Run the retro"], copies
    assert all(t["labels"] == ["ritual"] for t in copies), copies
    # Switched off, the template is no longer offered.
    page.goto(f"/p/{kit['id']}/settings")
    page.get_by_role("switch", name="Use as template").uncheck()
    expect(page.locator("#project-template-state")).to_have_text("Saved: no longer a template.")
    page.get_by_role("button", name="New project").click()
    expect(page.get_by_role("dialog").get_by_label("Name", exact=True)).to_be_visible()
    expect(page.get_by_role("dialog").get_by_label("Sprint kit")).to_have_count(0)
    page.get_by_role("dialog").get_by_role("button", name="Cancel").click()
    csp_clean(page)
    page.context.close()


def setup():
    ada = user("Ada")  # first user of the instance: an admin
    bob, vic = user("Bob"), user("Vic")
    launch = project(ada, "Launch")
    for who, role in ((bob, "editor"), (vic, "viewer")):
        member(ada, launch["id"], who, role)
    task(ada, launch["id"], title="Deploy the app", priority=4, labels=["ops"], due_date="2026-12-01")
    task(ada, launch["id"], title="Rotate the keys", priority=2, labels=["ops", "security"], assignee_id=bob["id"])
    task(ada, launch["id"], title="Watch the dashboards", labels=["ops"])
    task(ada, launch["id"], title="Write the changelog", status="done", priority=1, due_date="2026-11-20")
    board = project(ada, "Board")
    member(ada, board["id"], vic, "viewer")
    for name in ("Card A", "Card B", "Card C"):
        task(ada, board["id"], title=name)
    big = project(ada, "Thousand")
    started = time.time()
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda i: task(ada, big["id"], title=f"Task number {i}", priority=i % 5,
                                     labels=["bulk"] if i % 3 == 0 else []), range(1000)))
    print(f"  set-up: 1,000 tasks in {time.time() - started:.1f} s", flush=True)
    return {"ada": ada, "bob": bob, "vic": vic, "launch": launch, "board": board, "big": big}


def main():
    started = time.time()
    env = setup()
    failures = 0
    with sync_playwright() as pw:
        b = Browser(pw)
        for fn in TESTS:
            if ONLY and not any(part in fn.__name__ for part in ONLY):
                continue
            t0 = time.time()
            b.errors.clear()
            try:
                fn(b, env)
                assert not b.errors, f"errors in the page: {b.errors}"
                REPORT["tests"][fn.__name__] = "pass"
                print(f"PASS {fn.__name__} ({time.time() - t0:.1f} s)", flush=True)
            except Exception:
                failures += 1
                REPORT["tests"][fn.__name__] = "FAIL"
                print(f"FAIL {fn.__name__} ({time.time() - t0:.1f} s)", flush=True)
                traceback.print_exc()
                for ctx in b.browser.contexts:
                    for i, page in enumerate(ctx.pages):
                        try:
                            page.screenshot(path=os.path.join(SHOTS, f"FAILED-{fn.__name__}-{i}.png"))
                        except Exception:
                            pass
            finally:
                for ctx in list(b.browser.contexts):
                    ctx.close()
        assert not b.foreign, f"requests to other origins: {b.foreign}"
        b.browser.close()
    with open(os.path.join(OUT, "web-report.json"), "w") as f:
        json.dump(REPORT, f, indent=2)
    print("budgets:", json.dumps(REPORT["budgets"]))
    print("axe (serious+critical / all violations per screen):")
    for screen, r in REPORT["axe"].items():
        print(f"  {screen}: {r['serious_or_critical']} / {r['violations']} {' '.join(r['ids'])}")
    print(f"{len(REPORT['tests']) - failures} passed, {failures} failed in {time.time() - started:.0f} s")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
