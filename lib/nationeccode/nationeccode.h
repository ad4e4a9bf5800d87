/*
 * nationeccode: NationEcTrans of XJ-D01-2019 appendix B.1.3, for Linux, over the
 * terminal door of an ecnet provincial node (POST https://HOST:PORT/ec/v1/trans).
 *
 *     char *NationEcTrans(char *strUrl, char *InData, char *OutData);
 *
 * strUrl   where the terminal's provincial node listens: "https://HOST:PORT/ec/v1/trans",
 *          "https://HOST:PORT" or "HOST:PORT" (the path is /ec/v1/trans then). HOST is an
 *          IPv4 address, an IPv6 address in brackets ("[::1]:51044") or a name. Plain
 *          http:// is refused: the door speaks TLS only.
 * InData   the request of table B.1, JSON text in UTF-8, {"orgId", "transType", "data",
 *          "extra"}; sent as it is, as the body of the POST.
 * OutData  the caller's buffer, at least NATIONEC_OUT_MAX bytes (or out_max, below, when
 *          set lower). It receives, NUL-terminated, the answer of table B.2
 *          {"orgId", "code", "message", "data", "extra"} as the node sent it, or, when
 *          there was no usable answer, {"code": <int>, "message": "..."}. Nothing is ever
 *          written past out_max bytes: an answer that does not fit is replaced by
 *          {"code": -1, "message": "...does not fit OutData..."}.
 *
 * The return value points to a string owned by the library (per thread; valid until the
 * same thread calls again):
 *   "0000"     the node answered HTTP 200 and the answer's code is 0: the transaction
 *              succeeded, OutData holds the answer;
 *   "500005"…  the node answered with this code of table C.4 (a business refusal, or a
 *              refusal of the door itself: "-4" refused certificate, "-2" not JSON, …);
 *              OutData holds the node's answer;
 *   "-1"       a TLS or certificate problem (the server's certificate not trusted by the
 *              CA or not issued for HOST, the terminal's certificate refused by the node's
 *              TLS alert, a file that cannot be read, a key that does not
 *              match its certificate, no certificate configured, …), named in the message;
 *              or an answer that is not the door's JSON or does not fit OutData;
 *   "-2"       InData is NULL or empty (or OutData is NULL: nothing is written then);
 *   "-3"       no answer in time, no connection (refused, unreachable), or the connection
 *              closed before any answer:
 *              "医保服务响应超时: ...";
 *   "-5"       strUrl is not a usable address.
 *
 * The terminal's certificate (from the nation's CA) and the CA that issued the node's
 * certificate are found, each setting from the first place that has it:
 *   1. the environment: ECNET_CA (the CA file), ECNET_TERMINAL_CERT and
 *      ECNET_TERMINAL_KEY (the terminal's certificate and key, PEM);
 *   2. the environment: ECNET_TERMINAL_ID (the 20-digit terminal number) and
 *      ECNET_TERMINALS (a folder holding <number>.crt and <number>.key, as
 *      DIR/pki/terminals of a nation); the CA then ECNET_CA, else ../ca.crt relative to
 *      that folder (DIR/pki/ca.crt);
 *   3. the file nationeccode.conf beside the shared library (libnationeccode.so), lines of
 *      key=value, '#' starting a comment:
 *          ca=/etc/ecnet/ca.crt
 *          cert=/etc/ecnet/44201912345678900001.crt
 *          key=/etc/ecnet/44201912345678900001.key
 *          timeout_ms=10000
 *          out_max=65536
 *      (a relative path is relative to the file's folder; an unknown key is refused).
 * The time limit (connection, handshake, request and answer together) is ECNET_TIMEOUT_MS,
 * else timeout_ms, else 10000 ms (resolving a HOST that is a name is the system resolver's,
 * before it). The size of OutData is ECNET_OUT_MAX, else out_max, else
 * NATIONEC_OUT_MAX; it can only be lowered (256 at least).
 *
 * The server is checked as a browser would: its chain against the CA file, and its name
 * (or IP address) against HOST. TLS 1.2 at least, 1.3 preferred. Each call opens its own
 * connection with its own TLS context: the function can be called from several threads
 * at once. SIGPIPE is held back in the calling thread during the call.
 */
#ifndef NATIONECCODE_H
#define NATIONECCODE_H

#ifdef __cplusplus
extern "C" {
#endif

/* The size of the caller's OutData buffer, terminating NUL included. */
#define NATIONEC_OUT_MAX 65536

/* The return of a transaction that succeeded. */
#define NATIONEC_SUCCESS "0000"

char *NationEcTrans(char *strUrl, char *InData, char *OutData);

#ifdef __cplusplus
}
#endif

#endif /* NATIONECCODE_H */
