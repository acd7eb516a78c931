"""
PrismQ backend load tests: weighted tasks, two user classes (regular users and dashboard pollers).
"""
from locust import FastHttpUser, HttpUser, between, task

API = "/api/v1"
MODULE_ID = "youtube-shorts"


class PrismQUser(HttpUser):
    weight = 3
    wait_time = between(1, 3)

    @task(5)
    def get_modules(self):
        self.client.get(f"{API}/modules", name="GET /modules")

    @task(4)
    def get_runs(self):
        self.client.get(API + "/runs", params={"limit": 50, "status": "completed"}, name="GET /runs")

    @task(3)
    def get_module_config(self):
        self.client.get("%s/modules/%s/config" % (API, MODULE_ID), name="GET /modules/{id}/config")

    @task(2)
    def health(self):
        self.client.get("/health")

    @task(2)
    def system_stats(self):
        self.client.get("{}/system/stats".format(API), name="GET /system/stats")

    @task(1)
    def launch_and_follow(self):
        r = self.client.post(
            f"{API}/modules/{MODULE_ID}/run",
            json={"parameters": {"max_results": 10, "dry_run": True}, "tags": ["load", "test"]},
            name="POST /modules/{id}/run",
        )
        run_id = r.json().get("run_id")
        self.client.get(f"{API}/runs/{run_id}", name="GET /runs/{id}")
        self.client.get(f"{API}/runs/{run_id}/logs", params={"tail": 100}, name="GET /runs/{id}/logs")

    @task(1)
    def save_config(self):
        self.client.put(
            f"{API}/modules/{MODULE_ID}/config",
            json={"enabled": True, "schedule": "0 * * * *", "retries": 3, "ratio": 0.5},
            name="PUT /modules/{id}/config",
        )


class DashboardPoller(FastHttpUser):
    weight = 1
    wait_time = between(0.5, 1)

    @task(10)
    def poll_runs(self):
        self.client.get(API + "/runs", params={"limit": 50, "status": "completed"}, name="GET /runs")

    @task(5)
    def poll_stats(self):
        self.client.get(f"{API}/system/stats", name="GET /system/stats")

    @task(2)
    def health(self):
        self.client.get("/health")
