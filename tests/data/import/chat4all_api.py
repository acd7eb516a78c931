"""
Chat4All API throughput test (T131): 10M messages/minute.

    locust -f chat4all_api.py --host=http://localhost:8000 \
           --users=1000 --spawn-rate=100 --run-time=5m --headless --csv=reports/api_throughput
"""
import csv
import random
import time

from locust import HttpUser, between, task

with open("users.csv") as f:
    USERS = list(csv.DictReader(f))

MESSAGE_LENGTH = 64
PAGE_SIZE = 20


class ChatUser(HttpUser):
    host = "http://127.0.0.1:8000"
    wait_time = between(1, 2)

    def on_start(self):
        """Log in once per user and keep the token on the session."""
        self.user = random.choice(USERS)
        response = self.client.post(
            "/auth/login",
            json={"username": self.user["name"], "password": self.user["password"]},
            name="POST /auth/login",
        )
        self.token = response.json()["access_token"]
        self.client.headers.update({"Authorization": f"Bearer {self.token}"})

    @task(10)
    def post_message(self):
        content = "".join(random.choices("abcdefghijklmnopqrstuvwxyz ", k=MESSAGE_LENGTH))
        self.client.post(
            "/v1/messages",
            json={
                "conversation_id": self.user["conversation"],
                "content": content,
                "client_ts": int(time.time() * 1000),
            },
            name="POST /v1/messages",
        )

    @task(1)
    def list_conversations(self):
        self.client.get("/v1/conversations", params={"limit": PAGE_SIZE}, name="GET /v1/conversations")
