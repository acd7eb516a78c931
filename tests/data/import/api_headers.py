# An API suite with its headers built in on_start and kept on self, ids taken from list
# responses, and an event hook (a common way to log at the start of a test).
from locust import HttpUser, between, events, task


@events.test_start.add_listener
def on_test_start(environment, **kwargs):
    print("starting the API test")


class ApiUser(HttpUser):
    wait_time = between(1, 3)
    host = "http://127.0.0.1:8000"

    def on_start(self):
        r = self.client.post("/login", json={"username": "api-user", "password": "pw"})
        token = r.json()["access_token"]
        self.headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}

    @task(4)
    def list_then_get(self):
        r = self.client.get("/api/items", params={"limit": 3}, headers=self.headers)
        first = r.json()["items"][0]["id"]
        self.client.get(f"/api/items/{first}", name="/api/items/[id]", headers=self.headers)

    @task(1)
    def create(self):
        self.client.post("/api/items", json={"name": "gadget", "tags": ["a", "b"]}, headers=self.headers)
