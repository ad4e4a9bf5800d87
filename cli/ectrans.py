"""``nation_ec_trans``: the NationEcTrans call of Appendix B.1.3, for integrators.

The deployed system ships ``NationECCode.dll`` with one function,
``NationEcTrans(strUrl, InData, OutData)``: JSON text in, JSON text out, and a return
string that is ``"0000"`` only when the transaction succeeded. This is the same contract
in Python, over the terminal door of the provincial node (``POST
https://HOST:PORT/ec/v1/trans``, mutual TLS); ``lib/nationeccode/`` is the same in C::

    from cli.ectrans import nation_ec_trans

    ret, out = nation_ec_trans("https://127.0.0.1:51044/ec/v1/trans", json.dumps({
        "orgId": "H44010600001", "transType": "ec.query",
        "data": {"orgId": "H44010600001", "businessType": "01101", "operatorId": "test001",
                 "operatorName": "张医生", "ecQrCode": "4243754826492874240001440000"}}),
        terminal_id="44201912345678900001")
    answer = json.loads(out)          # {"orgId", "code", "data", "message", "extra"}

* ``ret == "0000"``: the province answered HTTP 200 with ``code`` 0, the transaction
  succeeded; ``out`` is its answer (table B.2), ``data`` always an object;
* ``ret`` another code of table C.4 as text (``"500005"``, ``"-4"``, ...): the province
  answered with that code, ``out`` is its answer (a business refusal, or the door's own:
  ``-4`` no or refused certificate, ``-2`` not JSON, ...);
* otherwise no usable answer came, ``ret`` says why and ``out`` is ``{"code": <int>,
  "message": "..."}``: ``"-1"`` a TLS or certificate problem (the node's certificate not
  from the nation's CA or not issued for HOST, the terminal's refused by the node's TLS
  alert, a file that cannot be read) or an answer that is not the door's JSON; ``"-2"``
  no terminal certificate, or empty ``in_data``;
  ``"-3"`` no connection or no answer in time ("医保服务响应超时: ..."); ``"-5"``
  unusable url.

``url`` is ``https://HOST:PORT/ec/v1/trans``, ``https://HOST:PORT`` or ``HOST:PORT`` (the
path is ``/ec/v1/trans`` then); HOST an IPv4 address, an IPv6 address in brackets or a
name, which the node's certificate must name (``ecnet nation up`` puts province NN's door
at 127.0.0.1:51000+NN, the ``https`` of its entry in ``nation.json``). ``in_data`` is
sent as it is: the door judges it. The DLL knows its own terminal; here it is
``terminal_id=`` or, failing that, the ``ECNET_TERMINAL_ID`` environment variable. The
call is made with that terminal's certificate from the national CA
(``DIR/pki/terminals/T.{crt,key}`` of the nation in ``data_dir``, by default
``ECNET_DATA`` or ``./nation``, else the folder ``ECNET_TERMINALS`` names:
``cli.rpc.terminal_files``): the province reads the terminal from the certificate, not
from a header. Without a terminal it calls with no certificate, which the door refuses
(``-4``). The node's certificate is checked against the nation's CA (``DIR/pki/ca.crt``,
else ``ECNET_CA``). On a nation started ``--insecure`` the doors speak plain HTTP: the
url is ``http://`` (or ``HOST:PORT``) and the terminal's number travels in the
``ec-terminal-id`` header, which only such a node reads. ``timeout`` bounds each step
(connection, sending, answer). Each call makes its own connection; the TLS settings are
kept per url, terminal and folder.
"""

from __future__ import annotations

import ipaddress
import json
import os
import ssl
import threading
from pathlib import Path
from typing import Any

import httpx

from cli.nationfile import NationFile, default_data_dir
from cli.rpc import CliError, terminal_files

__all__ = ["nation_ec_trans", "door_url", "SUCCESS", "TERMINAL_ENV", "DOOR_PATH"]

SUCCESS = "0000"
TERMINAL_ENV = "ECNET_TERMINAL_ID"
DOOR_PATH = "/ec/v1/trans"
TIMEOUT_PREFIX = "医保服务响应超时: "

_clients: dict[tuple[str, str, Path], httpx.Client] = {}
_lock = threading.Lock()


class _Failure(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


def _failure(code: int, message: str) -> tuple[str, str]:
    return str(code), json.dumps({"code": code, "message": message}, ensure_ascii=False)


def door_url(url: str, insecure: bool = False) -> str:
    """The terminal door's URL from ``url`` (``https://HOST:PORT[/path]`` or
    ``HOST:PORT``; ``http://`` too when ``insecure``, the nation's doors then plain HTTP);
    ValueError when it is not usable."""
    text = url.strip()
    scheme = "http" if insecure else "https"
    if text[:8].lower() == "https://":
        text, scheme = text[8:], "https"
    elif insecure and text[:7].lower() == "http://":
        text = text[7:]
    elif "://" in text:
        raise ValueError(f"{url[:200]!r}: the terminal door is https://HOST:PORT{DOOR_PATH}")
    authority, slash, path = text.partition("/")
    if "@" in authority:
        raise ValueError("no user name goes in the url")
    if authority.startswith("["):
        host, bracket, port = authority[1:].partition("]")
        if not bracket or not port.startswith(":"):
            raise ValueError(f"{url[:200]!r} is not https://[IPv6]:PORT")
        port = port[1:]
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise ValueError(f"{host[:60]!r} is not an IPv6 address") from None
        netloc = f"[{host}]"
    else:
        if authority.count(":") > 1:
            raise ValueError(f"{url[:200]!r}: an IPv6 address goes in brackets, [::1]:PORT")
        host, colon, port = authority.partition(":")
        if not colon or not host:
            raise ValueError(
                f"{url[:200]!r} is not https://HOST:PORT{DOOR_PATH}, https://HOST:PORT or HOST:PORT"
            )
        if not all(c.isascii() and (c.isalnum() or c in ".-_") for c in host):
            raise ValueError(f"{host[:60]!r} is not a host name or IP address")
        netloc = host
    if not (port.isascii() and port.isdigit() and 0 < int(port) < 65536):
        raise ValueError(f"{port[:10]!r} is not a port number (1 to 65535)")
    path = slash + path if path else DOOR_PATH
    if any(c <= " " or c >= "\x7f" or c == "#" for c in path):
        raise ValueError("its path has a character that cannot go in a URL")
    return f"{scheme}://{netloc}:{int(port)}{path}"


def _ca_file(data_dir: Path, terminal_ca: Path | None) -> Path:
    if terminal_ca is not None:
        return terminal_ca
    own = data_dir / "pki" / "ca.crt"
    if own.exists():
        return own
    env = os.environ.get("ECNET_CA", "")
    if env:
        return Path(env)
    raise _Failure(
        -1,
        f"no CA to check the node's certificate with: neither {own} nor ECNET_CA "
        "(`ecnet nation up` makes the nation's)",
    )


def _tls_context(data_dir: Path, terminal: str) -> ssl.SSLContext:
    cert: Path | None = None
    key: Path | None = None
    terminal_ca: Path | None = None
    if terminal:
        try:
            terminal_ca, cert, key = terminal_files(data_dir, terminal)
        except CliError as exc:
            raise _Failure(exc.code if exc.code is not None else -2, str(exc)) from None
    ca = _ca_file(data_dir, terminal_ca)
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_verify_locations(cafile=ca)
    except (OSError, ssl.SSLError) as exc:
        raise _Failure(-1, f"the CA file {ca} is not usable: {_reason(exc)}") from None
    if cert is not None and key is not None:
        try:
            context.load_cert_chain(cert, key)
        except (OSError, ssl.SSLError) as exc:
            raise _Failure(
                -1, f"the terminal certificate {cert} (key {key}) is not usable: {_reason(exc)}"
            ) from None
    context.set_alpn_protocols(["http/1.1"])
    return context


def _reason(exc: BaseException) -> str:
    if isinstance(exc, ssl.SSLCertVerificationError):
        return str(exc.verify_message)
    if isinstance(exc, ssl.SSLError):
        return str(exc.reason or exc)
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__


def _client(url: str, terminal: str, data_dir: Path) -> httpx.Client:
    with _lock:
        client = _clients.get((url, terminal, data_dir))
        if client is None:
            if url.startswith("http://"):  # an --insecure nation: no TLS
                client = httpx.Client(headers={"ec-terminal-id": terminal} if terminal else {})
            else:
                client = httpx.Client(verify=_tls_context(data_dir, terminal))
            _clients[(url, terminal, data_dir)] = client
    return client


def _ssl_cause(exc: BaseException) -> ssl.SSLError | None:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLError):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


# The alerts with which a node refuses the certificate this side presented (OpenSSL's names).
_REFUSED_CERTIFICATE = frozenset(
    {
        "SSLV3_ALERT_BAD_CERTIFICATE",
        "SSLV3_ALERT_UNSUPPORTED_CERTIFICATE",
        "SSLV3_ALERT_CERTIFICATE_REVOKED",
        "SSLV3_ALERT_CERTIFICATE_EXPIRED",
        "SSLV3_ALERT_CERTIFICATE_UNKNOWN",
        "TLSV1_ALERT_UNKNOWN_CA",
        "TLSV13_ALERT_CERTIFICATE_REQUIRED",
    }
)


def _post(url: str, in_data: str, terminal: str, data_dir: Path, timeout: float) -> httpx.Response:
    where = url.split("/")[2]
    try:
        return _client(url, terminal, data_dir).post(
            url,
            content=in_data.encode(),
            # one connection per transaction, as the C library makes: none is left open to
            # a node that stops between a hospital's calls
            headers={"Content-Type": "application/json; charset=utf-8", "Connection": "close"},
            timeout=timeout,
        )
    except httpx.TimeoutException:
        raise _Failure(-3, f"{TIMEOUT_PREFIX}no answer from {where} within {timeout:g} s") from None
    except (httpx.TransportError, ssl.SSLError) as exc:
        # (TLS 1.3: the node's alert refusing this side's certificate comes while the
        # request is read, and httpx lets that SSLError through unwrapped)
        cause = _ssl_cause(exc)
        if terminal and cause is not None and str(cause.reason) in _REFUSED_CERTIFICATE:
            _, cert, _ = terminal_files(data_dir, terminal)
            raise _Failure(
                -1,
                f"the node at {where} does not accept the terminal certificate {cert}: "
                f"{_reason(cause)} (not issued by the nation's CA, expired or revoked?)",
            ) from None
        if isinstance(cause, ssl.SSLCertVerificationError):
            raise _Failure(
                -1, f"the certificate of the node at {where} was refused: {_reason(cause)}"
            ) from None
        if cause is not None:
            raise _Failure(-1, f"TLS with {where} failed: {_reason(cause)}") from None
        if isinstance(exc, httpx.ConnectError):
            raise _Failure(-3, f"{TIMEOUT_PREFIX}cannot connect to {where} ({exc})") from None
        raise _Failure(
            -3, f"{TIMEOUT_PREFIX}the connection to {where} ended without an answer ({exc})"
        ) from None


def _code(answer: Any) -> int | None:
    if isinstance(answer, dict):
        code = answer.get("code")
        if isinstance(code, int) and not isinstance(code, bool):
            return code
    return None


def _insecure(data_dir: Path) -> bool:
    try:
        return NationFile.load(data_dir).insecure
    except FileNotFoundError:
        return False


def nation_ec_trans(
    url: str,
    in_data: str,
    *,
    terminal_id: str | None = None,
    timeout: float = 10.0,
    data_dir: Path | None = None,
) -> tuple[str, str]:
    """One Appendix B transaction: ``(ret, out_data)``, see the module docstring."""
    folder = data_dir if data_dir is not None else default_data_dir()
    try:
        target = door_url(url, _insecure(folder))
    except ValueError as exc:
        return _failure(-5, f"invalid request address: {exc}")
    if not in_data:
        return _failure(-2, "in_data is empty: the request of table B.1 goes there")
    terminal = terminal_id if terminal_id is not None else os.environ.get(TERMINAL_ENV, "")
    try:
        resp = _post(target, in_data, terminal, folder, timeout)
    except _Failure as exc:
        return _failure(exc.code, str(exc))
    text = resp.text
    try:
        code = _code(json.loads(text))
    except ValueError:
        code = None
    if code is None or (code == 0 and resp.status_code != 200):
        return _failure(
            -1,
            f"{target.split('/')[2]} answered HTTP {resp.status_code} without the door's "
            f"JSON {{code: ...}}: {text[:120]!r}",
        )
    return (SUCCESS if code == 0 else str(code)), text
