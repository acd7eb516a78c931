# A small Locust 2.x run against `blast serve`, kept so that blast's CSV can be compared with
# what Locust really writes: two request names, some failures (404) and one exception kind.
from locust import HttpUser, task, constant_throughput


class Chat(HttpUser):
    wait_time = constant_throughput(20)

    @task(10)
    def post_message(self):
        self.client.post("/v1/messages", json={"room": "r1", "text": "hello"})

    @task(1)
    def missing(self):
        self.client.get("/v1/missing")

    @task(1)
    def broken(self):
        raise ValueError("a deliberate exception")
