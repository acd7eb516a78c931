"""
Dashboard API load test: the baseline suite the CI regression check compares against.

    locust -f dashboard_api.py --headless -u 20 -r 5 --run-time 2m --csv results/current
"""
from locust import HttpUser, constant_pacing, task

DASHBOARD_ID = 42
WIDGETS = ["revenue", "signups", "churn"]


class DashboardUser(HttpUser):
    host = "http://127.0.0.1:8000"
    wait_time = constant_pacing(2)

    def on_start(self):
        r = self.client.post("/auth/login", data='{"username": "dashboard", "password": "pw"}', name="POST /auth/login")
        self.client.headers["Authorization"] = "Bearer " + r.json()["access_token"]

    @task(6)
    def overview(self):
        self.client.get(f"/v1/dashboards/{DASHBOARD_ID}", name="GET /v1/dashboards/{id}")

    @task(3)
    def widgets(self):
        for widget in WIDGETS:
            self.client.get(f"/v1/dashboards/{DASHBOARD_ID}/widgets/{widget}", name=f"GET /widgets/{widget}")

    @task(1)
    def export(self):
        r = self.client.post(f"/v1/dashboards/{DASHBOARD_ID}/export", data="format=csv", headers={"Content-Type": "text/plain"})
        job = r.headers["Location"]
        self.client.get(f"/v1/exports/status?job={job}", name="GET /v1/exports/status")
