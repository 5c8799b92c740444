"""Assembly: each function's object graph, built from ``Settings`` once per process.

One module per function (``proxy``, ``policy``, ``authorizer``, ``fanout``, ``websocket``), each a
dataclass with a ``from_settings`` constructor: the clients, the pipeline or app, the recorder, and
the function's entry for a Lambda event. Two hosts build them: ``functions/<name>/app.py`` at a Lambda
container's cold start (a few lines: settings, the object, its wrapped entry) and ``serve`` in each
worker. The wiring lives here, in the library, so that ``serve`` need not import the handler modules:
the library never depends on ``functions/`` (on Lambda the layer holds the library, and each
function's own code is loaded apart from it as ``app``). This is the library's top layer below
``serve``: it imports every other, and only ``serve`` imports it. Each module imports only its own
function's dependencies, so a function's cold start pays for no other's.
"""
