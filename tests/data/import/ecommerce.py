# An e-commerce suite in the style of blog posts: random products and categories, a cart
# keyed by a response value, JSON sent with json.dumps, a logout in on_stop, a custom
# load shape.
import json
import random
import uuid

from locust import HttpUser, LoadTestShape, between, task

CATEGORIES = ["lamps", "desks", "chairs", "rugs"]
JSON_HEADERS = {"Content-Type": "application/json", "Accept": "application/json"}


class Shopper(HttpUser):
    wait_time = between(1, 2)

    def on_start(self):
        self.client.post("/login", data={"username": "shopper", "password": "secret"})

    def on_stop(self):
        self.client.post("/logout")

    @task(5)
    def browse_category(self):
        category = random.choice(CATEGORIES)
        self.client.get("/products", params={"category": category, "page": random.randint(1, 5)})

    @task(3)
    def view_product(self):
        pid = random.randint(1, 100)
        url = "/products/" + str(pid)
        with self.client.get(url, name="/products/[id]", catch_response=True) as r:
            if r.status_code == 200:
                r.success()
            else:
                r.failure("product missing")

    @task(2)
    def add_and_check_cart(self):
        payload = {"product_id": random.randint(1, 100), "quantity": 1}
        r = self.client.post("/cart/items", data=json.dumps(payload), headers=JSON_HEADERS)
        cart = r.json()["cart_id"]
        self.client.get("/cart/" + cart, name="/cart/[id]", headers={"X-Request-Id": str(uuid.uuid4())})


class StepShape(LoadTestShape):
    step_time = 30
    step_users = 10

    def tick(self):
        run_time = self.get_run_time()
        if run_time > 120:
            return None
        return (self.step_users * (run_time // self.step_time + 1), self.step_users)
