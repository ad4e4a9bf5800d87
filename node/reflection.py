"""Server reflection that serves the comments of proto/, so ``grpcurl describe`` shows
the documentation of every service, method, message and field.

grpc_reflection's servicer answers from a descriptor pool, and the Python protobuf
runtime keeps no source info (comments) in a pool; protoc's Python output has none to
begin with. So ``make proto`` also writes ``ecnet/v1/descriptor_set.binpb``: every file
of proto/ and its imports as ``FileDescriptorProto``, with source info. This servicer
answers from those protos as they are; a symbol or file they do not hold (the health
and reflection services' own files) comes from the default pool, as grpc_reflection
would answer it.

The node calls :func:`enable_reflection` with the names of the services it lists, the
same call shape as ``grpc_reflection.v1alpha.reflection.enable_server_reflection``.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import AsyncIterator, Callable, Iterable
from importlib import resources

import grpc
from google.protobuf import descriptor_pb2, descriptor_pool
from google.protobuf.descriptor import FileDescriptor
from grpc_reflection.v1alpha import reflection_pb2 as rpb
from grpc_reflection.v1alpha import reflection_pb2_grpc

__all__ = ["DESCRIPTOR_SET", "DescriptorSet", "ReflectionServicer", "enable_reflection"]

log = logging.getLogger("ecnet.reflection")

# The resource in package ecnet.v1 that `make proto` writes (and proto-check checks).
DESCRIPTOR_SET = "descriptor_set.binpb"

# grpc_reflection's stubs declare its generated registration without types; this is it
# with them.
_add_reflection_servicer: Callable[
    [reflection_pb2_grpc.ServerReflectionServicer, grpc.aio.Server], None
] = reflection_pb2_grpc.add_ServerReflectionServicer_to_server


class DescriptorSet:
    """The files of a ``FileDescriptorSet``, indexed by name, symbol and extension."""

    def __init__(self, files: Iterable[descriptor_pb2.FileDescriptorProto]) -> None:
        self.serialized: dict[str, bytes] = {}
        self.dependencies: dict[str, tuple[str, ...]] = {}
        self.file_of_symbol: dict[str, str] = {}
        # (extended message's full name, field number) -> file declaring the extension
        self.file_of_extension: dict[tuple[str, int], str] = {}
        for f in files:
            self.serialized[f.name] = f.SerializeToString()
            self.dependencies[f.name] = tuple(f.dependency)
            self._index(f)

    @classmethod
    def from_bytes(cls, data: bytes) -> DescriptorSet:
        return cls(descriptor_pb2.FileDescriptorSet.FromString(data).file)

    @classmethod
    @functools.cache
    def packaged(cls) -> DescriptorSet:
        """The set shipped in package ``ecnet.v1`` (read once); empty, with a warning, if
        it is missing."""
        try:
            data = resources.files("ecnet.v1").joinpath(DESCRIPTOR_SET).read_bytes()
        except OSError:
            log.warning(
                "ecnet/v1/%s is missing (run make proto): reflection serves no comments",
                DESCRIPTOR_SET,
            )
            return cls(())
        return cls.from_bytes(data)

    # -- the index ---------------------------------------------------------------------
    def _add(self, name: str, file: str) -> None:
        self.file_of_symbol.setdefault(name, file)

    def _index(self, f: descriptor_pb2.FileDescriptorProto) -> None:
        scope = f"{f.package}." if f.package else ""
        for m in f.message_type:
            self._message(m, scope, f.name)
        for e in f.enum_type:
            self._enum(e, scope, f.name)
        for x in f.extension:
            self._extension(x, scope, f.name)
        for s in f.service:
            self._add(scope + s.name, f.name)
            for method in s.method:
                self._add(f"{scope}{s.name}.{method.name}", f.name)

    def _message(self, m: descriptor_pb2.DescriptorProto, scope: str, file: str) -> None:
        name = scope + m.name
        self._add(name, file)
        for field in m.field:
            self._add(f"{name}.{field.name}", file)
        for oneof in m.oneof_decl:
            self._add(f"{name}.{oneof.name}", file)
        for nested in m.nested_type:
            self._message(nested, f"{name}.", file)
        for e in m.enum_type:
            self._enum(e, f"{name}.", file)
        for x in m.extension:
            self._extension(x, f"{name}.", file)

    def _enum(self, e: descriptor_pb2.EnumDescriptorProto, scope: str, file: str) -> None:
        self._add(scope + e.name, file)
        for value in e.value:  # siblings of their enum (C++ scoping), and its children
            self._add(scope + value.name, file)
            self._add(f"{scope}{e.name}.{value.name}", file)

    def _extension(self, x: descriptor_pb2.FieldDescriptorProto, scope: str, file: str) -> None:
        self._add(scope + x.name, file)
        self.file_of_extension.setdefault((x.extendee.lstrip("."), x.number), file)

    # -- answers -----------------------------------------------------------------------
    def with_dependencies(self, name: str) -> list[bytes]:
        """The file ``name`` first, then every file it imports, transitively."""
        order: list[str] = []
        stack = [name]
        while stack:
            current = stack.pop()
            if current in order or current not in self.serialized:
                continue
            order.append(current)
            stack.extend(reversed(self.dependencies[current]))
        return [self.serialized[n] for n in order]

    def extension_numbers(self, message: str) -> set[int]:
        return {n for (m, n) in self.file_of_extension if m == message}


def _pool_files(descriptor: FileDescriptor) -> list[bytes]:
    """A default-pool file and its imports, serialized (grpc_reflection's answer)."""
    seen: dict[str, FileDescriptor] = {}
    stack = [descriptor]
    while stack:
        d = stack.pop()
        if d.name in seen:
            continue
        seen[d.name] = d
        stack.extend(d.dependencies)
    out: list[bytes] = []
    for d in seen.values():
        proto = descriptor_pb2.FileDescriptorProto()
        d.CopyToProto(proto)
        out.append(proto.SerializeToString())
    return out


class ReflectionServicer(reflection_pb2_grpc.ServerReflectionServicer):
    """``grpc.reflection.v1alpha.ServerReflection`` answered from a :class:`DescriptorSet`
    first, then from a descriptor pool (the default one)."""

    def __init__(
        self,
        service_names: Iterable[str],
        files: DescriptorSet,
        pool: descriptor_pool.DescriptorPool | None = None,
    ) -> None:
        self.service_names = tuple(sorted(service_names))
        self.files = files
        self.pool = pool or descriptor_pool.Default()

    async def ServerReflectionInfo(
        self,
        request_iterator: AsyncIterator[rpb.ServerReflectionRequest],
        context: grpc.aio.ServicerContext[
            rpb.ServerReflectionRequest, rpb.ServerReflectionResponse
        ],
    ) -> AsyncIterator[rpb.ServerReflectionResponse]:
        async for request in request_iterator:
            yield self.answer(request)

    def answer(self, request: rpb.ServerReflectionRequest) -> rpb.ServerReflectionResponse:
        kind = request.WhichOneof("message_request")
        try:
            if kind == "list_services":
                return rpb.ServerReflectionResponse(
                    original_request=request,
                    list_services_response=rpb.ListServiceResponse(
                        service=[rpb.ServiceResponse(name=n) for n in self.service_names]
                    ),
                )
            if kind == "file_by_filename":
                return self._files(request, self._by_filename(request.file_by_filename))
            if kind == "file_containing_symbol":
                return self._files(request, self._by_symbol(request.file_containing_symbol))
            if kind == "file_containing_extension":
                ext = request.file_containing_extension
                return self._files(
                    request, self._by_extension(ext.containing_type, ext.extension_number)
                )
            if kind == "all_extension_numbers_of_type":
                return self._extension_numbers(request, request.all_extension_numbers_of_type)
        except KeyError:
            return _error(request, grpc.StatusCode.NOT_FOUND)
        return _error(request, grpc.StatusCode.INVALID_ARGUMENT)

    @staticmethod
    def _files(
        request: rpb.ServerReflectionRequest, files: list[bytes]
    ) -> rpb.ServerReflectionResponse:
        return rpb.ServerReflectionResponse(
            original_request=request,
            file_descriptor_response=rpb.FileDescriptorResponse(file_descriptor_proto=files),
        )

    def _by_filename(self, name: str) -> list[bytes]:
        if name in self.files.serialized:
            return self.files.with_dependencies(name)
        return _pool_files(self.pool.FindFileByName(name))

    def _by_symbol(self, symbol: str) -> list[bytes]:
        symbol = symbol.lstrip(".")
        file = self.files.file_of_symbol.get(symbol)
        if file is not None:
            return self.files.with_dependencies(file)
        return _pool_files(self.pool.FindFileContainingSymbol(symbol))

    def _by_extension(self, message: str, number: int) -> list[bytes]:
        file = self.files.file_of_extension.get((message, number))
        if file is not None:
            return self.files.with_dependencies(file)
        extension = self.pool.FindExtensionByNumber(
            self.pool.FindMessageTypeByName(message), number
        )
        # types-protobuf leaves out FieldDescriptor.file, which the runtime has.
        return _pool_files(extension.file)  # type: ignore[attr-defined]

    def _extension_numbers(
        self, request: rpb.ServerReflectionRequest, message: str
    ) -> rpb.ServerReflectionResponse:
        numbers = self.files.extension_numbers(message)
        known = message in self.files.file_of_symbol
        try:
            descriptor = self.pool.FindMessageTypeByName(message)
        except KeyError:
            if not known:
                raise
        else:
            numbers |= {x.number for x in self.pool.FindAllExtensions(descriptor)}
        return rpb.ServerReflectionResponse(
            original_request=request,
            all_extension_numbers_response=rpb.ExtensionNumberResponse(
                base_type_name=message, extension_number=sorted(numbers)
            ),
        )


def _error(
    request: rpb.ServerReflectionRequest, code: grpc.StatusCode
) -> rpb.ServerReflectionResponse:
    return rpb.ServerReflectionResponse(
        original_request=request,
        error_response=rpb.ErrorResponse(error_code=code.value[0], error_message=code.value[1]),
    )


def enable_reflection(service_names: Iterable[str], server: grpc.aio.Server) -> None:
    """Serve reflection on ``server``, listing ``service_names``, with the comments of
    proto/ (from the packaged descriptor set)."""
    _add_reflection_servicer(ReflectionServicer(service_names, DescriptorSet.packaged()), server)
