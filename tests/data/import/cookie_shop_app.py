"""The shop tests/data/import/cookies.har was recorded against, written the usual FastAPI way,
for tests/it/import/har_cookies.rs: the imported HAR must send, on each connection (a virtual
user without a users file), the cookies that connection's own responses set, never the values
the recording holds.

  GET  /             the consent cookie (a script set it in the recording browser) required
  POST /login        consent; form username/password -> 200, Set-Cookie session (new each login)
  GET  /cart         consent and session required -> 200, Set-Cookie csrftoken (one per session)
  POST /cart/items   session and its csrftoken required (the recording sent no consent here),
                     JSON {"product", "qty"}
  GET  /stats, POST /stats/reset   what the shop counted

A session is tied to the connection (client address and port) of the login that set it: a
request carrying it from another connection is counted as another user's."""
import itertools
import json
import secrets
from collections import Counter
from urllib.parse import parse_qs

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

app = FastAPI(title="cookie shop")
ids = itertools.count(1)
RECORDED = {"s3ss10n-recorded", "c5rf-recorded"}
S = Counter()
sessions = {}  # session -> {"peer", "csrf", "cart", "items"}


def peer(request: Request) -> str:
    return "%s:%s" % (request.client.host, request.client.port) if request.client else "?"


def refuse(why: str, status: int = 403):
    S[why] += 1
    return JSONResponse({"error": why}, status_code=status)


def session_of(request: Request, consent: bool):
    """The request's session, or why it has none that is its own (`consent`: the consent
    cookie must come too, as it did in the recording)."""
    if consent and request.cookies.get("consent") != "yes":
        return None, "consent_missing"
    sid = request.cookies.get("session")
    if sid is None:
        return None, "no_session"
    if sid in RECORDED:
        return None, "recorded_value"
    if sid not in sessions:
        return None, "unknown_session"
    if sessions[sid]["peer"] != peer(request):
        return None, "another_users_session"
    return sessions[sid], None


@app.get("/stats")
async def stats():
    out = dict(S)
    out["sessions"] = len(sessions)
    out["sessions_carted_once"] = sum(1 for s in sessions.values() if s["cart"] == 1 and s["items"] == 1)
    return out


@app.post("/stats/reset")
async def reset():
    S.clear()
    sessions.clear()
    return {"ok": True}


@app.get("/")
async def home(request: Request):
    S["home"] += 1
    if request.cookies.get("consent") != "yes":
        return refuse("consent_missing")
    return {}


@app.post("/login")
async def login(request: Request):
    form = parse_qs((await request.body()).decode())
    if form != {"username": ["alice"], "password": ["pw-1"]}:
        return refuse("bad_login", 401)
    if request.cookies.get("consent") != "yes":
        return refuse("consent_missing")
    sid = "s-%d-%s" % (next(ids), secrets.token_hex(6))
    sessions[sid] = {"peer": peer(request), "csrf": None, "cart": 0, "items": 0}
    S["logins"] += 1
    r = JSONResponse({"ok": True})
    r.set_cookie("session", sid, path="/", httponly=True)
    return r


@app.get("/cart")
async def cart(request: Request):
    s, why = session_of(request, consent=True)
    if s is None:
        return refuse(why)
    s["cart"] += 1
    s["csrf"] = "c-" + secrets.token_hex(6)
    S["carts"] += 1
    r = JSONResponse({"items": []})
    r.set_cookie("csrftoken", s["csrf"], path="/")
    return r


@app.post("/cart/items")
async def add_item(request: Request):
    s, why = session_of(request, consent=False)
    if s is None:
        return refuse(why)
    if request.cookies.get("csrftoken") != s["csrf"]:
        return refuse("csrf_mismatch")
    if json.loads(await request.body()) != {"product": 7, "qty": 1}:
        return refuse("bad_item", 400)
    s["items"] += 1
    S["items"] += 1
    return {"ok": True}
