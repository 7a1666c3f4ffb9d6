"""A real ``poseshift serve`` server on a free loopback port, for the API and browser tests."""
from __future__ import annotations

import socket
import threading
import time
from contextlib import contextmanager


@contextmanager
def running_server(checkpoint: str = "synthetic-64", transfers: list | None = None):
    """Yields the server's address. ``transfers``, where given, receives what each
    ``/api/transfer`` hands the model, as parsed from the request: ``{"pose": [18, 2],
    "source_pose": [18, 2] or None}``, float32 with NaN for a missing joint."""
    import uvicorn

    from poseshift.serve import create_app

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    app = create_app(checkpoint, "cpu")
    if transfers is not None:
        svc, transfer = app.state.service, app.state.service.transfer

        def recorded(image, pose, source, *args, **kwargs):
            transfers.append({"pose": pose.copy(), "source_pose": None if source is None else source.copy()})
            return transfer(image, pose, source, *args, **kwargs)

        svc.transfer = recorded  # the endpoint calls svc.transfer: this instance's attribute
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
