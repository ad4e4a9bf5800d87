"""``nation_ec_trans``: the NationEcTrans call of Appendix B.1.3, for integrators.

The deployed system ships ``NationECCode.dll`` with one function,
``NationEcTrans(strUrl, InData, OutData)``: JSON text in, JSON text out, and a return
string that is ``"0000"`` when the transaction went through. This is the same contract
in Python, over ecnet's ``AcceptanceService/Trans``::

    from cli.ectrans import nation_ec_trans

    ret, out = nation_ec_trans("127.0.0.1:50044", json.dumps({
        "orgId": "H44010600001", "transType": "ec.query",
        "data": {"orgId": "H44010600001", "businessType": "01101", "operatorId": "test001",
                 "operatorName": "张医生", "ecQrCode": "4243754826492874240001440000"}}),
        terminal_id="44201912345678900001")
    answer = json.loads(out)          # {"orgId", "code", "data", "message", "extra"}

* ``ret == "0000"``: the province answered; ``out`` is its answer (table B.2), whose
  ``code`` says whether the business succeeded (0) or why not (table C.4), ``data``
  always an object;
* otherwise the call did not go through, ``ret`` is the C.4 code as text (``"-2"``
  unreadable ``in_data``, ``"-3"`` no answer in time or node down, ``"-5"`` unusable
  url) and ``out`` is ``{"code": <int>, "message": "..."}``.

The DLL knows its own terminal; here it is ``terminal_id=`` or, failing that, the
``ECNET_TERMINAL_ID`` environment variable. The call is made with that terminal's
certificate from the national CA (``DIR/pki/terminals/T.{crt,key}`` of the nation in
``ECNET_DATA``, or ``./nation``, else the folder ``ECNET_TERMINALS`` names:
``cli.rpc.terminal_files``): the province reads the terminal from the certificate, not
from a header. Without a terminal it calls with the operator's certificate, which
passes no terminal's check (-4). ``url`` is ``HOST:PORT`` of the terminal's provincial
node (an ``http://`` or ``grpc://`` prefix and a trailing path are ignored). Channels
are kept per url and terminal.
"""

from __future__ import annotations

import json
import os
import threading
from typing import Any

import grpc
from google.protobuf.json_format import MessageToDict

from cli.nationfile import default_data_dir
from cli.rpc import CliError, open_channel, terminal_metadata
from ecnet.v1 import acceptance_service_pb2 as pb
from ecnet.v1.acceptance_service_pb2_grpc import AcceptanceServiceStub
from node.config import ConfigError, parse_address
from node.errors import from_rpc_error

__all__ = ["nation_ec_trans", "SUCCESS", "TERMINAL_ENV"]

SUCCESS = "0000"
TERMINAL_ENV = "ECNET_TERMINAL_ID"

_channels: dict[tuple[str, str], grpc.Channel] = {}
_lock = threading.Lock()


def _failure(code: int, message: str) -> tuple[str, str]:
    return str(code), json.dumps({"code": code, "message": message}, ensure_ascii=False)


def _target(url: str) -> str:
    target = url.strip()
    for scheme in ("grpc://", "http://", "https://"):
        if target.startswith(scheme):
            target = target[len(scheme) :]
    target = target.split("/", 1)[0]
    parse_address(target, "url")
    return target


def _stub(target: str, terminal: str) -> AcceptanceServiceStub:
    with _lock:
        channel = _channels.get((target, terminal))
        if channel is None:
            channel = open_channel(target, default_data_dir(), terminal)
            _channels[(target, terminal)] = channel
    return AcceptanceServiceStub(channel)


def _whole_numbers(value: Any) -> Any:
    """Struct numbers are doubles: give back 1 for 1.0, as the caller sent it."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _whole_numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_whole_numbers(v) for v in value]
    return value


def _object(value: Any, name: str) -> dict[str, Any]:
    if value is None or value == "":
        return {}
    if isinstance(value, str):  # some callers send data as JSON text
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            raise ValueError(f"{name} is a string that is not JSON") from None
    if not isinstance(value, dict):
        raise ValueError(f"{name} must be a JSON object")
    return value


def nation_ec_trans(
    url: str, in_data: str, *, terminal_id: str | None = None, timeout: float = 10.0
) -> tuple[str, str]:
    """One Appendix B transaction: ``(ret, out_data)``, see the module docstring."""
    try:
        target = _target(url)
    except ConfigError as exc:
        return _failure(-5, f"invalid request address: {exc}")
    try:
        envelope = json.loads(in_data)
        if not isinstance(envelope, dict):
            raise ValueError("in_data must be a JSON object {orgId, transType, data, extra}")
        request = pb.TransRequest(
            orgId=str(envelope.get("orgId") or ""), transType=str(envelope.get("transType") or "")
        )
        request.data.update(_object(envelope.get("data"), "data"))
        request.extra.update(_object(envelope.get("extra"), "extra"))
    except (ValueError, TypeError) as exc:
        return _failure(-2, f"in_data is not a usable request: {exc}")
    terminal = terminal_id if terminal_id is not None else os.environ.get(TERMINAL_ENV, "")
    metadata = terminal_metadata(default_data_dir(), terminal)
    try:
        stub = _stub(target, terminal)
    except CliError as exc:  # no certificate to call with
        return _failure(exc.code if exc.code is not None else -2, str(exc))
    try:
        resp = stub.Trans(request, metadata=metadata, timeout=timeout)
    except grpc.RpcError as exc:
        code, message = from_rpc_error(exc)
        if code == -3:
            message = f"医保服务响应超时: no answer from {target} within {timeout:g} s ({message})"
        return _failure(code, message)
    answer = {
        "orgId": resp.orgId,
        "code": resp.code,
        "data": _whole_numbers(MessageToDict(resp.data)),
        "message": resp.message,
        "extra": _whole_numbers(MessageToDict(resp.extra)),
    }
    return SUCCESS, json.dumps(answer, ensure_ascii=False)
