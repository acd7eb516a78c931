# A checkout journey as a SequentialTaskSet: log in once, then browse, view a product twice,
# add it to the cart, check out, look at the order, and start over.
import random
from locust import HttpUser, SequentialTaskSet, task, constant


class CheckoutFlow(SequentialTaskSet):
    def on_start(self):
        self.client.post("/login", json={"username": "shopper", "password": "secret"})

    @task
    def browse(self):
        self.client.get("/products", params={"category": random.choice(["lamps", "desks", "chairs"])})

    @task(2)
    def view_product(self):
        product_id = random.randint(1, 50)
        self.client.get(f"/products/{product_id}", name="/products/[id]")

    @task
    def add_to_cart(self):
        with self.client.post("/cart/items", json={"product_id": 7, "quantity": 1}, catch_response=True) as r:
            if r.status_code == 201:
                r.success()
            else:
                r.failure(f"could not add: {r.status_code}")
        self.cart_id = r.json()["cart_id"]

    @task
    def checkout(self):
        r = self.client.post(f"/checkout/{self.cart_id}", name="/checkout/[cart]")
        self.order_id = r.json()["order_id"]

    @task
    def view_order(self):
        self.client.get("/orders/" + self.order_id, name="/orders/[id]")


class Shopper(HttpUser):
    tasks = [CheckoutFlow]
    wait_time = constant(0.5)
