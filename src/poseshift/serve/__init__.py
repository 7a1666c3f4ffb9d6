"""``poseshift serve``: a local web page that re-poses a photo, and the HTTP API it uses.

Built on FastAPI/Starlette and served by uvicorn: a well-kept framework whose multipart
parsing, static files and error handling we do not have to write, and whose TestClient-free
design lets tests drive a real server. The page is plain HTML, CSS and JavaScript under
``static/`` (no CDN, no external font), so it works with no network.

API (every error is a 4xx with ``{"error": "..."}``, one line):

* ``GET /api/health``: ``{"status": "ok", "model": ..., "image_size": S}``
* ``POST /api/pose``: multipart ``image`` -> ``{"keypoints": [18 x ([x, y] | null)], "width", "height"}``
* ``POST /api/transfer``: multipart ``image``, ``pose`` (JSON: 18 ``[x, y]`` or ``null`` in the
  image's pixels), optional ``source_pose`` and ``retarget`` (default ``true``: the pose redrawn
  on the photo's person, their own proportions where they stand; ``false``: as sent) ->
  ``image/png`` in the photo's own frame
* ``POST /api/animate``: multipart ``image``, ``motion`` (``turn`` or ``walk``), optional
  ``frames``, ``source_pose`` and ``retarget`` -> ``image/gif``; with a ``video`` file (at most
  10 MB and 20 s, else 413) the motion is its person's, detected in every frame (every k-th
  beyond 96 frames)
* ``GET /api/poses``: the gallery, ``[{"name", "keypoints"}]`` with coordinates as shares of
  the width and height (0..1), to be scaled to a photo

``GET /favicon.ico`` answers the page's icon (a PNG drawn in code). Each request is logged in one
line (method, path, status, milliseconds) on the ``poseshift.serve.app`` logger: on stderr under
``poseshift serve``.

The model runs one request at a time under a lock (measured in benchmarks/serve_load.py).
"""
from __future__ import annotations

from poseshift.serve.app import create_app

__all__ = ["create_app"]
