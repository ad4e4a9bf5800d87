"""gRPC servicers: thin adapters from proto messages to the node's components.

Each servicer gets the components it calls in its constructor (``node.components``
builds them per role) and does three things per method: read the caller
(``node.interceptor.current_caller``), call one typed function or method, turn the
result into the response message. Rules, checks and error codes live in the packages
they call.

A role registers the services it serves. A service that mixes both roles' methods
(``AdminService``, ``FederationService``) has a servicer per role, whose methods of the
other role answer -5 naming the role that serves them; a service a role does not serve
at all answers every call with -5 and where to go (:mod:`.unserved`).
"""
