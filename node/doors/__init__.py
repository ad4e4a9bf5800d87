"""The HTTPS doors of a node: what callers that do not speak gRPC use.

* the terminal door, ``POST /ec/v1/trans`` (provinces): the Appendix B envelope as a
  hospital's ``NationEcTrans`` library posts it (:mod:`.terminal`);
* the channel door, ``POST /ec/v1/channel/{method}``: the open platform's signed and
  encrypted envelope (:mod:`.channel`);
* ``/openapi.json`` and ``/docs``, what each door takes and answers (:mod:`.describe`).

Each door only translates: a request becomes the gRPC method's request message and goes
through the same checks as a gRPC call (``node.interceptor.CallInterceptor.call``: the
certificate, the gate, the channel's signature, the rate limits, the input limits), to
the same servicer (:mod:`.calls`). No rule lives here. The server (:mod:`.server`) is
uvicorn on the node's own event loop, TLS from the national CA, a client certificate
asked for and verified when offered (a terminal's is required by the terminal door; a
channel calls with its signature).
"""
