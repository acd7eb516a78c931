"""
Constructs outside what blast import translates: each must be listed by line.
"""
import random

import gevent
from locust import HttpUser, User, between, task


class RestClient:
    def __init__(self, base):
        self.base = base

    def call(self, path):
        return path


class ApiUser(HttpUser):
    host = "http://127.0.0.1:8000"
    wait_time = between(1, 2)

    @task(3)
    def browse(self):
        self.client.get("/v1/conversations", name="GET /v1/conversations")

    @task(1)
    def poll_until_done(self):
        while True:
            r = self.client.get("/v1/conversations", name="GET /v1/conversations")
            if random.random() < 0.2:
                break

    @task(1)
    def fan_out(self):
        jobs = [gevent.spawn(self.client.get, "/health") for _ in range(5)]
        gevent.joinall(jobs)


class GrpcUser(User):
    wait_time = between(1, 2)

    def on_start(self):
        self.client = RestClient("grpc://127.0.0.1:50051")

    @task
    def call(self):
        self.client.call("/chat.Messages/Send")
