#!/usr/bin/env python3
"""End-to-end checks of the account fixes against a running quantdesk: the attacks that worked
before (V1 guessing codes by asking again, V2 racing the login throttle, V3 overwriting a pending
sign-up, V4 redirecting elsewhere through `next`, V5 telling accounts apart by asking twice) must fail
against the real binary.

Usage: security_e2e_accounts.py BASE_URL MAILBOX_DIR QUANTDESK_BINARY
The server must use MAILBOX_DIR as its development mailbox (no SMTP) and the same database the
binary sees through QUANTDESK_DATABASE_URL (accounts are made with `quantdesk user create`).
"""

import concurrent.futures
import http.client
import json
import os
import re
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request

BASE, MAILBOX, BIN = sys.argv[1], sys.argv[2], sys.argv[3]
failures = 0


def check(name, ok, detail=""):
    global failures
    if ok:
        print(f"ok: {name}")
    else:
        failures += 1
        print(f"FAILED: {name} {detail}")


def post(path, body, headers=None):
    req = urllib.request.Request(BASE + path, data=json.dumps(body).encode(), method="POST")
    req.add_header("content-type", "application/json")
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def get(path, headers=None):
    req = urllib.request.Request(BASE + path)
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def messages():
    """Every message in the mailbox, oldest first."""
    if not os.path.isdir(MAILBOX):
        return []
    files = [os.path.join(MAILBOX, f) for f in os.listdir(MAILBOX) if f.endswith(".eml")]
    files.sort(key=lambda p: (os.stat(p).st_mtime_ns, p))
    return [open(p, encoding="utf-8", errors="replace").read() for p in files]


def last_code(to):
    for m in reversed(messages()):
        if re.search(r"^To: .*" + re.escape(to), m, re.M | re.I):
            found = re.search(r"code is (\d{6})", m)
            if found:
                return found.group(1)
    raise SystemExit(f"no code mailed to {to}")


def wrong(code, i):
    return f"{(int(code) + 1 + i) % 1_000_000:06d}"


def user(email, password, role="analyst"):
    env = dict(os.environ, QUANTDESK_USER_PASSWORD=password)
    subprocess.run([BIN, "user", "create", "--email", email, "--role", role, "--reset"], env=env, check=True,
                   stdout=subprocess.DEVNULL)


def key(email):
    out = subprocess.run([BIN, "key", "create", "--email", email, "--name", "e2e", "--scopes", "read"],
                         check=True, capture_output=True, text=True)
    return out.stdout.strip()


# V1: 20 cycles of reset + 5 wrong guesses: 429s, never a success, the owner still signs in.
user("v1@e2e.test", "v1-owner-password-1", "admin")
asked, guessed, code = [], [], None
for cycle in range(20):
    s, _ = post("/api/v1/auth/password/reset", {"email": "v1@e2e.test"})
    asked.append(s)
    if s == 202:
        code = last_code("v1@e2e.test")
    for i in range(5):
        s, _ = post("/api/v1/auth/password/reset/confirm",
                    {"email": "v1@e2e.test", "code": wrong(code, cycle * 5 + i), "new_password": "attacker-pass-99"})
        guessed.append(s)
check("V1 no new reset code within a minute", asked[0] == 202 and all(s == 429 for s in asked[1:]), asked)
check("V1 guesses run out and answer 429", 200 not in guessed and guessed.count(429) >= 90, guessed)
s, _ = post("/api/v1/auth/login", {"email": "v1@e2e.test", "password": "v1-owner-password-1"})
check("V1 the owner's password is unchanged", s == 200, s)
check("V1 the owner was told", any("entered too often" in m for m in messages()))

# V2: 30 concurrent wrong passwords from one address: at most 3 evaluated; the right one waits.
user("v2@e2e.test", "v2-owner-password-1")
with concurrent.futures.ThreadPoolExecutor(30) as pool:
    statuses = list(pool.map(lambda i: post("/api/v1/auth/login", {"email": "v2@e2e.test", "password": f"wrong-{i}-pw"})[0],
                             range(30)))
check("V2 at most 3 of 30 concurrent attempts evaluated", statuses.count(401) <= 3 and statuses.count(429) == 30 - statuses.count(401),
      statuses)
s, _ = post("/api/v1/auth/login", {"email": "v2@e2e.test", "password": "v2-owner-password-1"})
check("V2 the right password right after waits", s == 429, s)

# V3: an attacker's sign-up for a pending address changes nothing; the victim's code sets the victim's password.
s1, _ = post("/api/v1/auth/signup", {"email": "v3@e2e.test", "password": "victims-own-pass-1"})
code = last_code("v3@e2e.test")
s2, _ = post("/api/v1/auth/signup", {"email": "v3@e2e.test", "password": "attackers-pass-66"})
check("V3 the second sign-up is refused for a minute", (s1, s2) == (202, 429), (s1, s2))
s, _ = post("/api/v1/auth/verify", {"email": "v3@e2e.test", "code": code})
check("V3 the victim's code verifies", s == 200, s)
s, _ = post("/api/v1/auth/login", {"email": "v3@e2e.test", "password": "attackers-pass-66"})
check("V3 the attacker's password does not sign in", s == 401, s)
s, _ = post("/api/v1/auth/login", {"email": "v3@e2e.test", "password": "victims-own-pass-1"})
check("V3 the victim's password signs in", s == 200, s)
# A reset (account recovery) revokes every key.
user("v3b@e2e.test", "v3b-owner-password-1")
token = key("v3b@e2e.test")
check("V3 the key works before the reset", get("/api/v1/auth/me", {"authorization": f"Bearer {token}"})[0] == 200)
post("/api/v1/auth/password/reset", {"email": "v3b@e2e.test"})
s, _ = post("/api/v1/auth/password/reset/confirm",
            {"email": "v3b@e2e.test", "code": last_code("v3b@e2e.test"), "new_password": "v3b-new-password-2"})
check("V3 the reset succeeds", s == 200, s)
check("V3 a reset revokes the keys", get("/api/v1/auth/me", {"authorization": f"Bearer {token}"})[0] == 401)

# V4: `next` never leads to another site: a tab (which browsers drop: `/\t/host` is `//host`) or
# CR/LF is a 400 without a Location, on GET /lang, GET /login and POST /login; other origins are
# replaced by a local path.
def raw(method, path, body=None, headers=None):
    """One request, redirects not followed: (status, Location or None)."""
    u = urllib.parse.urlsplit(BASE)
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    c.request(method, path, body=body, headers=headers or {})
    r = c.getresponse()
    r.read()
    c.close()
    return r.status, r.getheader("location")


for path in ["/lang/en?next=/%09/127.0.0.1:18182/landed", "/lang/en?next=/%0d%0aSet-Cookie:%20x=1",
             "/login?next=/%09/127.0.0.1:18182/landed", "/login?next=/%0aLocation:%20//evil.example"]:
    got = raw("GET", path, headers={"accept": "text/html"})
    check(f"V4 {path} is refused", got == (400, None), got)
form = "email=v5%40e2e.test&password=x&next=" + urllib.parse.quote("/\t/evil.example/", safe="")
got = raw("POST", "/login", form, {"content-type": "application/x-www-form-urlencoded", "accept": "text/html",
                                   "origin": BASE})
check("V4 POST /login with a tab in next is refused", got == (400, None), got)
for path, to in [("/lang/en?next=//evil.example/", "/"), ("/lang/en?next=/%5C/evil.example", "/"),
                 ("/lang/en?next=https://evil.example/", "/"), ("/lang/en?next=/instruments", "/instruments")]:
    got = raw("GET", path)
    check(f"V4 {path} stays here", got == (303, to), got)

# V5: asking twice answers alike for an existing and a new address, for sign-up and for reset.
user("v5@e2e.test", "v5-owner-password-1")
def twice(path, body):
    return [post(path, body)[0] for _ in range(2)]
signup_existing = twice("/api/v1/auth/signup", {"email": "v5@e2e.test", "password": "some-new-pass-42"})
signup_new = twice("/api/v1/auth/signup", {"email": "v5-new@e2e.test", "password": "some-new-pass-42"})
check("V5 sign-up answers alike", signup_existing == signup_new == [202, 429], (signup_existing, signup_new))
reset_existing = twice("/api/v1/auth/password/reset", {"email": "v5b@e2e.test"})
user("v5c@e2e.test", "v5c-owner-password-1")
reset_known = twice("/api/v1/auth/password/reset", {"email": "v5c@e2e.test"})
check("V5 reset answers alike", reset_existing == reset_known == [202, 429], (reset_existing, reset_known))

sys.exit(1 if failures else 0)
