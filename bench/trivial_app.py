"""The HTTP ceiling: the serve stack (FastAPI on Granian) answering a constant."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import JSONResponse

app = FastAPI()


@app.get("/ping")
async def ping() -> JSONResponse:
    return JSONResponse({"status": "ok"})


@app.post("/hook", status_code=204)
async def hook() -> None:
    """A webhook receiver that answers at once: the ceiling for `consume crm`."""
