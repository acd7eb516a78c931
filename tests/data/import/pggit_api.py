"""
PGGIT Phase 8 API load test. Run a subset with tags:

    locust -f pggit_api.py --headless -u 50 -r 5 --run-time 5m --tags webhooks,alerts
"""
import uuid

from locust import HttpUser, constant_throughput, tag, task

TOKEN = "test-token"
REPOS = ["core", "billing", "search"]


def list_branches(user):
    user.client.get("/api/v1/branches", headers=user.auth_headers(), name="GET /api/v1/branches")


class PggitUser(HttpUser):
    host = "http://127.0.0.1:8000"
    wait_time = constant_throughput(2)
    tasks = {list_branches: 2}

    def auth_headers(self):
        return {"Authorization": f"Bearer {TOKEN}", "X-Request-Id": str(uuid.uuid4())}

    @tag("rest_endpoints")
    @task(4)
    def list_commits(self):
        with self.client.get(
            "/api/v1/commits",
            params={"repo": "core", "limit": 25},
            headers=self.auth_headers(),
            name="GET /api/v1/commits",
            catch_response=True,
        ) as response:
            if response.status_code == 200:
                response.success()
            else:
                response.failure(f"status {response.status_code}")

    @tag("webhooks")
    @task(2)
    def create_and_fire_webhook(self):
        with self.client.post(
            "/api/v1/webhooks",
            json={"url": "http://127.0.0.1:9999/hook", "events": ["push", "merge"], "active": True},
            headers=self.auth_headers(),
            name="POST /api/v1/webhooks",
            catch_response=True,
        ) as r:
            if r.status_code != 201:
                r.failure("webhook not created")
            else:
                hook_id = r.json()["id"]
        self.client.post(f"/api/v1/webhooks/{hook_id}/test", headers=self.auth_headers(), name="POST /api/v1/webhooks/{id}/test")

    @tag("alerts")
    @task(1)
    def alerts(self):
        with self.client.get("/api/v1/alerts", headers=self.auth_headers(), name="GET /api/v1/alerts", catch_response=True) as r:
            if "alerts" not in r.text:
                r.failure("no alerts list")
            elif r.elapsed.total_seconds() > 0.5:
                r.failure("slow alerts")

    @tag("rest_endpoints")
    @task(1)
    def repo_page(self):
        for page in range(3):
            self.client.get(f"/api/v1/repos?page={page}", headers=self.auth_headers(), name="GET /api/v1/repos")
