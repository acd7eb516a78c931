"""A small shop and items API for `blast import`'s tests (tests/it/import_styles.rs): the
Locust files in the usual styles (quickstart, TaskSet, SequentialTaskSet checkout, FastHttpUser
rest(), e-commerce, API with headers) run against it, and it counts what it received itself:
requests per "METHOD /route" (the route's template), logins, and checks the bearer token and
the session cookie where a real service would. `python shop_app.py PORT`."""

import sys
import uuid
from collections import Counter

import uvicorn
from fastapi import FastAPI, Header, HTTPException, Request, Response
from pydantic import BaseModel

app = FastAPI()
counts = Counter()
tokens = {}


@app.middleware("http")
async def count(request: Request, call_next):
    response = await call_next(request)
    route = request.scope.get("route")
    if route is not None and not request.url.path.startswith("/stats"):
        counts[f"{request.method} {route.path}"] += 1
        counts[f"status {response.status_code}"] += 1
    return response


class Login(BaseModel):
    username: str
    password: str


def bearer(authorization: str) -> str:
    token = authorization.removeprefix("Bearer ").strip()
    if token not in tokens:
        raise HTTPException(401, "bad token")
    return tokens[token]


@app.post("/login")
async def login(request: Request, response: Response):
    if request.headers.get("content-type", "").startswith("application/json"):
        body = await request.json()
    else:
        body = dict(await request.form())
    if not body.get("username") or not body.get("password"):
        raise HTTPException(422, "username and password")
    token = uuid.uuid4().hex
    tokens[token] = body["username"]
    response.set_cookie("session", uuid.uuid4().hex)
    counts["logins"] += 1
    return {"token": token, "access_token": token, "user_id": len(tokens)}


@app.post("/logout")
def logout():
    return {"ok": True}


@app.get("/")
def index():
    return {"shop": "ok"}


@app.get("/hello")
def hello():
    return {"hello": "world"}


@app.get("/world")
def world():
    return {"world": "hello"}


@app.get("/item")
def item(id: int):
    return {"id": id}


@app.get("/products")
def products(category: str = "all", page: int = 1):
    return {"items": [{"id": page * 10 + i, "category": category} for i in range(3)]}


@app.get("/products/{pid}")
def product(pid: int):
    if pid < 1 or pid > 100:
        raise HTTPException(404, "no such product")
    return {"id": pid, "price": pid * 3}


@app.get("/search")
def search(q: str):
    return {"q": q, "hits": 3}


class CartItem(BaseModel):
    product_id: int
    quantity: int = 1


@app.post("/cart/items", status_code=201)
def add_to_cart(item: CartItem):
    return {"cart_id": "c-" + uuid.uuid4().hex[:12], "product_id": item.product_id}


@app.get("/cart/{cart_id}")
def cart(cart_id: str):
    return {"cart_id": cart_id, "items": 1}


@app.post("/checkout/{cart_id}", status_code=201)
def checkout(cart_id: str):
    return {"order_id": "o-" + uuid.uuid4().hex[:12], "status": "placed"}


@app.get("/orders/{order_id}")
def order(order_id: str):
    if not order_id.startswith("o-"):
        raise HTTPException(404, "no such order")
    return {"order_id": order_id, "status": "placed"}


class Thing(BaseModel):
    name: str
    tags: list[str] = []


@app.get("/api/items")
def list_items(limit: int = 10, authorization: str = Header(default="")):
    bearer(authorization)
    return {"items": [{"id": f"it-{i}"} for i in range(limit)]}


@app.post("/api/items", status_code=201)
def create_item(thing: Thing, authorization: str = Header(default="")):
    bearer(authorization)
    return {"id": "it-" + uuid.uuid4().hex[:8], "name": thing.name}


@app.get("/api/items/{item_id}")
def get_item(item_id: str, authorization: str = Header(default="")):
    bearer(authorization)
    if not item_id.startswith("it-"):
        raise HTTPException(404, "no such item")
    return {"id": item_id}


@app.delete("/api/items/{item_id}", status_code=204)
def delete_item(item_id: str, authorization: str = Header(default="")):
    bearer(authorization)
    return Response(status_code=204)


@app.get("/stats")
def stats():
    return dict(counts)


@app.post("/stats/reset")
def reset():
    counts.clear()
    return {}


if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning", access_log=False)
