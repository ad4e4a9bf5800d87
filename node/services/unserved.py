"""What a node answers for a service its role does not serve: -5 (table C.4, 服务不可用
here) and where to go, for every method, so that a call sent to the wrong node is told
plainly instead of failing as an unknown method.

Server reflection still lists every service on every node, so grpcurl can describe
and call them and gets this answer.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any, NoReturn

import grpc
from google.protobuf import message_factory
from google.protobuf.descriptor import ServiceDescriptor
from google.protobuf.message import Message

from node.errors import EcError

__all__ = ["unserved"]

# The context of a call to any method of the service.
_Context = grpc.aio.ServicerContext[Message, Message]


def unserved(
    service: ServiceDescriptor,
    message: str,
    answers: Mapping[str, Callable[[Any, EcError], Message]] | None = None,
) -> grpc.GenericRpcHandler:
    """A handler of every method of ``service`` that refuses with -5 and ``message``.

    ``answers`` names methods whose refusal travels in their response instead (the
    Appendix B ``Trans``): ``answers[name](request, error)`` makes it.
    """
    handlers: dict[str, grpc.RpcMethodHandler[Message, Message]] = {}
    for method in service.methods:
        request_type = message_factory.GetMessageClass(method.input_type)
        make = (answers or {}).get(method.name)

        async def refuse(request: Message, context: _Context) -> NoReturn:
            raise EcError(-5, message)

        def answering(
            make: Callable[[Any, EcError], Message],
        ) -> Callable[[Message, _Context], Awaitable[Message]]:
            async def answer(request: Message, context: _Context) -> Message:
                return make(request, EcError(-5, message))

            return answer

        handlers[method.name] = grpc.unary_unary_rpc_method_handler(
            refuse if make is None else answering(make),
            request_deserializer=request_type.FromString,
            response_serializer=lambda response: response.SerializeToString(),
        )
    return grpc.method_handlers_generic_handler(service.full_name, handlers)
