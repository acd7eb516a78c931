# A chunked upload API the usual FastAPI way (UploadFile, Form): what bench/upload-api.sh sends
# blast's multipart upload flow through, python-multipart parsing every chunk. The SHA-256 of
# each object is computed from the chunks as they arrive and returned by complete.
import hashlib
import itertools

from fastapi import FastAPI, File, Form, HTTPException, UploadFile
from pydantic import BaseModel

app = FastAPI()
uploads = {}
ids = itertools.count(1)


class Initiate(BaseModel):
    filename: str
    size: int
    chunk_size: int


@app.post("/v1/files/initiate", status_code=201)
def initiate(body: Initiate):
    uid = "u%d" % next(ids)
    uploads[uid] = {"sha": hashlib.sha256(), "next": 0, "bytes": 0, "size": body.size}
    return {"upload_id": uid}


@app.post("/v1/files/{uid}/chunks")
async def chunk(uid: str, chunk_index: int = Form(...), chunk: UploadFile = File(...)):
    u = uploads.get(uid)
    if u is None:
        raise HTTPException(404, "unknown upload")
    if chunk_index != u["next"]:
        raise HTTPException(409, "chunk out of order")
    while True:
        block = await chunk.read(1 << 20)
        if not block:
            break
        u["sha"].update(block)
        u["bytes"] += len(block)
    u["next"] += 1
    return {"index": chunk_index}


@app.post("/v1/files/{uid}/complete", status_code=201)
def complete(uid: str):
    u = uploads.pop(uid, None)
    if u is None or u["bytes"] != u["size"]:
        raise HTTPException(409, "incomplete")
    return {"sha256": u["sha"].hexdigest(), "bytes": u["bytes"]}
