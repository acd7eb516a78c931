"""The services of three seed-style Locust suites, written the usual FastAPI way, for the
side-by-side test of `blast import` (tests/it/import_seeds.rs): real Locust runs a suite against
it, blast runs the imported profile, and the test compares what the service itself counted.

  PrismQ (prismq_backend.py), under /api/v1 and /health:
    GET /modules, GET /runs?limit=50&status=completed, GET|PUT /modules/{id}/config,
    GET /system/stats, POST /modules/{id}/run -> {"run_id"}, GET /runs/{run_id}[/logs?tail=100]
  PGGIT (pggit_api.py), bearer test-token and a fresh X-Request-Id on every request:
    GET /api/v1/branches, GET /api/v1/commits?repo=core&limit=25, POST /api/v1/webhooks -> 201
    {"id"}, POST /api/v1/webhooks/{id}/test, GET /api/v1/alerts, GET /api/v1/repos?page=N
  Dashboard (dashboard_api.py):
    POST /auth/login (a JSON text, whatever its Content-Type) -> {"access_token"}, one per login;
    with that bearer: GET /v1/dashboards/42, GET /v1/dashboards/42/widgets/{name},
    POST /v1/dashboards/42/export ("format=csv") -> 202 + Location, GET /v1/exports/status?job=
  GET /stats, POST /stats/reset   what the service counted

Counted: each route as "METHOD /template" (`served`), the same by client library (`by_agent`:
requests for HttpUser, geventhttpclient for FastHttpUser, blast), the statuses answered, the
requests each login's token carried (`by_token`), and anything the service had to refuse or
found wrong (`bad`, which the test expects empty)."""
import itertools
import json
from collections import Counter, defaultdict

from fastapi import FastAPI, Header, HTTPException, Request, Response
from fastapi.responses import JSONResponse

app = FastAPI(title="seeds")
ids = itertools.count(1)


def fresh():
    return {
        "served": Counter(),
        "by_agent": defaultdict(Counter),
        "statuses": Counter(),
        "bad": Counter(),
        "logins": 0,
        "by_token": Counter(),
        "pages": Counter(),
        "request_ids": set(),
    }


S = fresh()
runs = set()
hooks = set()
tokens = set()
jobs = set()


def agent(request: Request) -> str:
    ua = request.headers.get("user-agent", "")
    for kind in ("python-requests", "gevent", "blast"):
        if kind in ua.lower():
            return kind
    return ua or "none"


def hit(request: Request, route: str):
    S["served"][route] += 1
    S["by_agent"][agent(request)][route] += 1


def bad(why: str, status: int = 400):
    S["bad"][why] += 1
    raise HTTPException(status_code=status, detail=why)


@app.middleware("http")
async def count_statuses(request: Request, call_next):
    response = await call_next(request)
    if not request.url.path.startswith("/stats"):
        S["statuses"][str(response.status_code)] += 1
    return response


@app.get("/stats")
async def stats():
    out = {k: v for k, v in S.items() if k != "request_ids"}
    out["distinct_request_ids"] = len(S["request_ids"])
    return out


@app.post("/stats/reset")
async def reset():
    global S
    S = fresh()
    return {"ok": True}


# --- PrismQ ---------------------------------------------------------------------------------

MODULE = "youtube-shorts"


@app.get("/health")
async def health(request: Request):
    hit(request, "GET /health")
    return {"status": "ok"}


@app.get("/api/v1/modules")
async def modules(request: Request):
    hit(request, "GET /api/v1/modules")
    return [{"id": MODULE, "name": "YouTube Shorts"}]


@app.get("/api/v1/runs")
async def list_runs(request: Request, limit: int = 0, status: str = ""):
    hit(request, "GET /api/v1/runs")
    if (limit, status) != (50, "completed"):
        bad("runs query")
    return {"runs": [], "limit": limit}


@app.get("/api/v1/system/stats")
async def system_stats(request: Request):
    hit(request, "GET /api/v1/system/stats")
    return {"cpu": 0.5, "queue": 0}


@app.get("/api/v1/modules/{module}/config")
async def get_config(request: Request, module: str):
    hit(request, "GET /api/v1/modules/{id}/config")
    if module != MODULE:
        bad("unknown module", 404)
    return {"enabled": True}


@app.put("/api/v1/modules/{module}/config")
async def put_config(request: Request, module: str):
    hit(request, "PUT /api/v1/modules/{id}/config")
    body = await request.json()
    if module != MODULE or body != {"enabled": True, "schedule": "0 * * * *", "retries": 3, "ratio": 0.5}:
        bad("config body")
    return body


@app.post("/api/v1/modules/{module}/run")
async def launch(request: Request, module: str):
    hit(request, "POST /api/v1/modules/{id}/run")
    body = await request.json()
    if module != MODULE or body != {"parameters": {"max_results": 10, "dry_run": True}, "tags": ["load", "test"]}:
        bad("run body")
    run_id = "run-%d" % next(ids)
    runs.add(run_id)
    return {"run_id": run_id, "status": "queued"}


@app.get("/api/v1/runs/{run_id}")
async def get_run(request: Request, run_id: str):
    hit(request, "GET /api/v1/runs/{id}")
    if run_id not in runs:
        bad("unknown run", 404)
    return {"run_id": run_id, "status": "running"}


@app.get("/api/v1/runs/{run_id}/logs")
async def run_logs(request: Request, run_id: str, tail: int = 0):
    hit(request, "GET /api/v1/runs/{id}/logs")
    if run_id not in runs or tail != 100:
        bad("unknown run or tail", 404)
    return {"lines": ["started"]}


# --- PGGIT ----------------------------------------------------------------------------------


def pggit(request: Request, route: str, authorization: str, request_id: str):
    hit(request, route)
    if authorization != "Bearer test-token":
        bad("pggit token", 401)
    if not request_id:
        bad("no X-Request-Id")
    if request_id in S["request_ids"]:
        bad("X-Request-Id repeated")
    S["request_ids"].add(request_id)


@app.get("/api/v1/branches")
async def branches(request: Request, authorization: str = Header(""), x_request_id: str = Header("")):
    pggit(request, "GET /api/v1/branches", authorization, x_request_id)
    return [{"name": "main"}]


@app.get("/api/v1/commits")
async def commits(
    request: Request, repo: str = "", limit: int = 0, authorization: str = Header(""), x_request_id: str = Header("")
):
    pggit(request, "GET /api/v1/commits", authorization, x_request_id)
    if (repo, limit) != ("core", 25):
        bad("commits query")
    return {"commits": []}


@app.post("/api/v1/webhooks", status_code=201)
async def create_hook(request: Request, authorization: str = Header(""), x_request_id: str = Header("")):
    pggit(request, "POST /api/v1/webhooks", authorization, x_request_id)
    body = await request.json()
    if body != {"url": "http://127.0.0.1:9999/hook", "events": ["push", "merge"], "active": True}:
        bad("webhook body")
    hook = next(ids)
    hooks.add(hook)
    return {"id": hook}


@app.post("/api/v1/webhooks/{hook}/test")
async def fire_hook(request: Request, hook: int, authorization: str = Header(""), x_request_id: str = Header("")):
    pggit(request, "POST /api/v1/webhooks/{id}/test", authorization, x_request_id)
    if hook not in hooks:
        bad("unknown webhook", 404)
    return {"delivered": True}


@app.get("/api/v1/alerts")
async def alerts(request: Request, authorization: str = Header(""), x_request_id: str = Header("")):
    pggit(request, "GET /api/v1/alerts", authorization, x_request_id)
    return {"alerts": []}


@app.get("/api/v1/repos")
async def repos(request: Request, page: int = -1, authorization: str = Header(""), x_request_id: str = Header("")):
    pggit(request, "GET /api/v1/repos", authorization, x_request_id)
    if page not in (0, 1, 2):
        bad("repos page")
    S["pages"][str(page)] += 1
    return {"repos": ["core", "billing", "search"], "page": page}


# --- Dashboard ------------------------------------------------------------------------------

WIDGETS = ("revenue", "signups", "churn")


@app.post("/auth/login")
async def login(request: Request):
    hit(request, "POST /auth/login")
    try:
        body = json.loads(await request.body())
    except ValueError:
        body = None
    if body != {"username": "dashboard", "password": "pw"}:
        bad("login body", 401)
    token = "tok-%d" % next(ids)
    tokens.add(token)
    S["logins"] += 1
    return {"access_token": token, "token_type": "bearer"}


def dashboard(request: Request, route: str, authorization: str):
    hit(request, route)
    token = authorization.removeprefix("Bearer ")
    if token not in tokens:
        bad("dashboard token", 401)
    S["by_token"][token] += 1


@app.get("/v1/dashboards/{dash}")
async def overview(request: Request, dash: int, authorization: str = Header("")):
    dashboard(request, "GET /v1/dashboards/{id}", authorization)
    if dash != 42:
        bad("unknown dashboard", 404)
    return {"id": dash, "widgets": list(WIDGETS)}


@app.get("/v1/dashboards/{dash}/widgets/{widget}")
async def widget(request: Request, dash: int, widget: str, authorization: str = Header("")):
    dashboard(request, "GET /v1/dashboards/{id}/widgets/" + widget, authorization)
    if dash != 42 or widget not in WIDGETS:
        bad("unknown widget", 404)
    return {"widget": widget, "points": [1, 2, 3]}


@app.post("/v1/dashboards/{dash}/export")
async def export(request: Request, dash: int, authorization: str = Header("")):
    dashboard(request, "POST /v1/dashboards/{id}/export", authorization)
    if dash != 42 or await request.body() != b"format=csv" or request.headers.get("content-type") != "text/plain":
        bad("export request")
    job = "/v1/exports/%d" % next(ids)
    jobs.add(job)
    return JSONResponse({"job": job}, status_code=202, headers={"Location": job})


@app.get("/v1/exports/status")
async def export_status(request: Request, job: str = "", authorization: str = Header("")):
    dashboard(request, "GET /v1/exports/status", authorization)
    if job not in jobs:
        bad("unknown export job", 404)
    return {"job": job, "state": "done"}
