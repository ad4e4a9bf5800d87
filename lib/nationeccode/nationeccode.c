/*
 * NationEcTrans (XJ-D01-2019 appendix B.1.3) over the terminal door of an ecnet provincial
 * node: one HTTP/1.1 POST over mutual TLS per call. The contract, the settings and where
 * the certificates are found: nationeccode.h and README.md beside this file.
 */
#define _GNU_SOURCE
#include "nationeccode.h"

#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#define DEFAULT_TIMEOUT_MS 10000L
#define MAX_TIMEOUT_MS 3600000L
#define MIN_OUT 256 /* the smallest OutData: a refusal always fits */
#define MAX_HEADER 16384
#define MAX_PATH_LEN 4096
#define MAX_URL_PATH 1024
#define MSG_MAX 2048
#define DEFAULT_PATH "/ec/v1/trans"
#define CONF_NAME "nationeccode.conf"
#define TIMEOUT_PREFIX "医保服务响应超时: "

static __thread char ret_buf[32];

struct settings {
    char ca[MAX_PATH_LEN], cert[MAX_PATH_LEN], key[MAX_PATH_LEN];
    long timeout_ms;
    size_t out_max;
};

struct call {
    /* the address */
    char host[256];
    char port[8];
    char path[MAX_URL_PATH];
    char hostport[300]; /* as in the Host header and in messages: [::1]:51044 */
    int host_is_ip;
    struct settings set;
    /* the connection */
    struct timespec deadline;
    int fd;
    SSL_CTX *ctx;
    SSL *ssl;
    /* a failure: its C.4 code and message */
    int code;
    char msg[MSG_MAX];
    int tls_broken; /* a fatal TLS error: no close_notify then */
};

/* ------------------------------------------------------------------ refusals */

static void set_fail(struct call *c, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_fail(struct call *c, int code, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    c->code = code;
    vsnprintf(c->msg, sizeof c->msg, fmt, ap);
    va_end(ap);
}

/* The length of the valid UTF-8 sequence at s (at most n bytes), 0 when it is not one. */
static size_t utf8_len(const unsigned char *s, size_t n) {
    size_t len, i;
    unsigned int cp;
    if (s[0] < 0x80) return 1;
    if (s[0] >= 0xC2 && s[0] <= 0xDF) len = 2, cp = s[0] & 0x1F;
    else if (s[0] >= 0xE0 && s[0] <= 0xEF) len = 3, cp = s[0] & 0x0F;
    else if (s[0] >= 0xF0 && s[0] <= 0xF4) len = 4, cp = s[0] & 0x07;
    else return 0;
    if (len > n) return 0;
    for (i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80) return 0;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if ((len == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
        (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
        return 0;
    return len;
}

/* {"code":N,"message":"..."} in out, never more than cap bytes with its NUL: the message is
 * escaped for JSON (a byte that is not UTF-8 becomes '?') and cut where it would not fit. */
static void write_refusal(char *out, size_t cap, int code, const char *message) {
    const unsigned char *m = (const unsigned char *)message;
    size_t n = strlen(message), i = 0, pos;
    int head = snprintf(out, cap, "{\"code\":%d,\"message\":\"", code);
    if (head < 0 || (size_t)head + 3 > cap) { /* cap is at least MIN_OUT: never here */
        if (cap) out[0] = '\0';
        return;
    }
    pos = (size_t)head;
    while (i < n) {
        char esc[8];
        const char *piece = esc;
        size_t len = utf8_len(m + i, n - i), step = len;
        if (m[i] == '"' || m[i] == '\\') {
            esc[0] = '\\', esc[1] = (char)m[i], len = 2, step = 1;
        } else if (m[i] < 0x20) {
            snprintf(esc, sizeof esc, "\\u%04x", m[i]);
            len = 6, step = 1;
        } else if (len == 0) {
            esc[0] = '?', len = 1, step = 1;
        } else {
            piece = (const char *)m + i;
        }
        if (pos + len + 3 > cap) break; /* "} and the NUL */
        memcpy(out + pos, piece, len);
        pos += len, i += step;
    }
    out[pos++] = '"';
    out[pos++] = '}';
    out[pos] = '\0';
}

static char *answer_code(const char *text) {
    snprintf(ret_buf, sizeof ret_buf, "%s", text);
    return ret_buf;
}

static char *refuse(char *out, size_t cap, int code, const char *message) {
    write_refusal(out, cap, code, message);
    snprintf(ret_buf, sizeof ret_buf, "%d", code);
    return ret_buf;
}

/* ------------------------------------------------------------------ settings */

static const char *env(const char *name) {
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

static int copy_path(struct call *c, char *dst, const char *src, const char *what) {
    if (strlen(src) >= MAX_PATH_LEN) {
        set_fail(c, -1, "%s is longer than %d bytes", what, MAX_PATH_LEN - 1);
        return -1;
    }
    strcpy(dst, src);
    return 0;
}

/* base/rel, or rel when it is absolute. */
static int join_path(struct call *c, char *dst, const char *base, const char *rel,
                     const char *what) {
    int n = rel[0] == '/' ? snprintf(dst, MAX_PATH_LEN, "%s", rel)
                          : snprintf(dst, MAX_PATH_LEN, "%s/%s", base, rel);
    if (n < 0 || n >= MAX_PATH_LEN) {
        set_fail(c, -1, "%s is longer than %d bytes", what, MAX_PATH_LEN - 1);
        return -1;
    }
    return 0;
}

static int parse_long(const char *s, long lo, long hi, long *out) {
    char *end;
    long v;
    if (!*s || *s == '-' || *s == '+' || *s == ' ') return -1;
    errno = 0;
    v = strtol(s, &end, 10);
    if (errno || *end || v < lo || v > hi) return -1;
    *out = v;
    return 0;
}

/* The folder of this shared library (dladdr), where nationeccode.conf is looked for. */
static void library_folder(char *dir, size_t cap) {
    Dl_info info;
    const char *slash;
    if (!dladdr((void *)&NationEcTrans, &info) || !info.dli_fname ||
        !(slash = strrchr(info.dli_fname, '/'))) {
        snprintf(dir, cap, ".");
        return;
    }
    if (slash == info.dli_fname) snprintf(dir, cap, "/");
    else snprintf(dir, cap, "%.*s", (int)(slash - info.dli_fname), info.dli_fname);
}

static char *trim(char *s) {
    char *end;
    while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n') s++;
    end = s + strlen(s);
    while (end > s && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r' || end[-1] == '\n'))
        *--end = '\0';
    return s;
}

struct conf {
    char path[MAX_PATH_LEN];
    int found;
    char ca[MAX_PATH_LEN], cert[MAX_PATH_LEN], key[MAX_PATH_LEN];
    long timeout_ms, out_max; /* 0: not set */
};

/* Reads nationeccode.conf beside the library, if there is one. */
static int read_conf(struct call *c, struct conf *conf) {
    char dir[MAX_PATH_LEN], line[MAX_PATH_LEN + 64];
    FILE *f;
    int lineno = 0;
    memset(conf, 0, sizeof *conf);
    library_folder(dir, sizeof dir);
    if (join_path(c, conf->path, dir, CONF_NAME, "the path of " CONF_NAME) < 0) return -1;
    f = fopen(conf->path, "re");
    if (!f) {
        if (errno == ENOENT) return 0;
        set_fail(c, -1, "cannot read %s: %s", conf->path, strerror(errno));
        return -1;
    }
    conf->found = 1;
    while (fgets(line, sizeof line, f)) {
        char *s, *eq, *name, *value, *hash;
        lineno++;
        if (!strchr(line, '\n') && !feof(f)) {
            set_fail(c, -1, "%s line %d is too long", conf->path, lineno);
            goto bad;
        }
        if ((hash = strchr(line, '#'))) *hash = '\0';
        s = trim(line);
        if (!*s) continue;
        if (!(eq = strchr(s, '='))) {
            set_fail(c, -1, "%s line %d is not key=value: %.80s", conf->path, lineno, s);
            goto bad;
        }
        *eq = '\0';
        name = trim(s), value = trim(eq + 1);
        if (!strcmp(name, "ca") || !strcmp(name, "cert") || !strcmp(name, "key")) {
            char *dst = name[0] == 'c' ? (name[1] == 'a' ? conf->ca : conf->cert) : conf->key;
            if (!*value) {
                set_fail(c, -1, "%s line %d: %s= names no file", conf->path, lineno, name);
                goto bad;
            }
            if (join_path(c, dst, dir, value, "a path of " CONF_NAME) < 0) goto bad;
        } else if (!strcmp(name, "timeout_ms")) {
            if (parse_long(value, 1, MAX_TIMEOUT_MS, &conf->timeout_ms) < 0) {
                set_fail(c, -1, "%s line %d: timeout_ms=%.40s is not a number of milliseconds "
                         "from 1 to %ld", conf->path, lineno, value, MAX_TIMEOUT_MS);
                goto bad;
            }
        } else if (!strcmp(name, "out_max")) {
            if (parse_long(value, MIN_OUT, NATIONEC_OUT_MAX, &conf->out_max) < 0) {
                set_fail(c, -1, "%s line %d: out_max=%.40s is not a size from %d to %d",
                         conf->path, lineno, value, MIN_OUT, NATIONEC_OUT_MAX);
                goto bad;
            }
        } else {
            set_fail(c, -1, "%s line %d: unknown setting '%.40s' (ca, cert, key, timeout_ms, "
                     "out_max)", conf->path, lineno, name);
            goto bad;
        }
    }
    if (ferror(f)) {
        set_fail(c, -1, "cannot read %s: %s", conf->path, strerror(errno));
        goto bad;
    }
    fclose(f);
    return 0;
bad:
    fclose(f);
    return -1;
}

static int is_terminal_id(const char *s) {
    size_t i;
    for (i = 0; s[i]; i++)
        if (s[i] < '0' || s[i] > '9') return 0;
    return i == 20;
}

/* Size and time first (a refusal needs the size), then where the certificates are. While
 * the size is not known, refusals are written in MIN_OUT bytes. */
static int load_settings(struct call *c, struct conf *conf) {
    struct settings *s = &c->set;
    const char *v;
    long n;
    s->out_max = MIN_OUT;
    if (read_conf(c, conf) < 0) return -1;
    if ((v = env("ECNET_OUT_MAX"))) {
        if (parse_long(v, MIN_OUT, NATIONEC_OUT_MAX, &n) < 0) {
            set_fail(c, -1, "ECNET_OUT_MAX=%.40s is not a size from %d to %d", v, MIN_OUT,
                     NATIONEC_OUT_MAX);
            return -1;
        }
        s->out_max = (size_t)n;
    } else {
        s->out_max = conf->out_max ? (size_t)conf->out_max : NATIONEC_OUT_MAX;
    }
    if ((v = env("ECNET_TIMEOUT_MS"))) {
        if (parse_long(v, 1, MAX_TIMEOUT_MS, &s->timeout_ms) < 0) {
            set_fail(c, -1, "ECNET_TIMEOUT_MS=%.40s is not a number of milliseconds from 1 to "
                     "%ld", v, MAX_TIMEOUT_MS);
            return -1;
        }
    } else {
        s->timeout_ms = conf->timeout_ms ? conf->timeout_ms : DEFAULT_TIMEOUT_MS;
    }
    return 0;
}

static int find_certificates(struct call *c, const struct conf *conf) {
    struct settings *s = &c->set;
    const char *cert = env("ECNET_TERMINAL_CERT"), *key = env("ECNET_TERMINAL_KEY");
    const char *tid = env("ECNET_TERMINAL_ID"), *folder = env("ECNET_TERMINALS");
    const char *ca = env("ECNET_CA");
    s->ca[0] = s->cert[0] = s->key[0] = '\0';
    if (!cert != !key) {
        set_fail(c, -1, "%s is set but not %s: the terminal's certificate and key go together",
                 cert ? "ECNET_TERMINAL_CERT" : "ECNET_TERMINAL_KEY",
                 cert ? "ECNET_TERMINAL_KEY" : "ECNET_TERMINAL_CERT");
        return -1;
    }
    if (cert) {
        if (copy_path(c, s->cert, cert, "ECNET_TERMINAL_CERT") < 0 ||
            copy_path(c, s->key, key, "ECNET_TERMINAL_KEY") < 0)
            return -1;
    } else if (tid && folder) {
        char name[32];
        if (!is_terminal_id(tid)) {
            set_fail(c, -1, "ECNET_TERMINAL_ID=%.40s is not a 20-digit terminal number", tid);
            return -1;
        }
        snprintf(name, sizeof name, "%s.crt", tid);
        if (join_path(c, s->cert, folder, name, "ECNET_TERMINALS") < 0) return -1;
        snprintf(name, sizeof name, "%s.key", tid);
        if (join_path(c, s->key, folder, name, "ECNET_TERMINALS") < 0) return -1;
        if (!ca && join_path(c, s->ca, folder, "../ca.crt", "ECNET_TERMINALS") < 0) return -1;
    } else if (conf->cert[0] || conf->key[0]) {
        if (!conf->cert[0] || !conf->key[0]) {
            set_fail(c, -1, "%s has %s= but no %s=: the terminal's certificate and key go "
                     "together", conf->path, conf->cert[0] ? "cert" : "key",
                     conf->cert[0] ? "key" : "cert");
            return -1;
        }
        strcpy(s->cert, conf->cert);
        strcpy(s->key, conf->key);
    } else {
        set_fail(c, -1,
                 "no terminal certificate configured: set ECNET_TERMINAL_CERT and "
                 "ECNET_TERMINAL_KEY (with ECNET_CA), or ECNET_TERMINAL_ID and ECNET_TERMINALS "
                 "(a folder of <terminal>.crt and .key)%s, or cert=, key= and ca= in %s",
                 tid && !folder   ? " (ECNET_TERMINAL_ID is set, ECNET_TERMINALS is not)"
                 : folder && !tid ? " (ECNET_TERMINALS is set, ECNET_TERMINAL_ID is not)"
                                  : "",
                 conf->path);
        return -1;
    }
    if (ca) {
        if (copy_path(c, s->ca, ca, "ECNET_CA") < 0) return -1;
    } else if (!s->ca[0]) {
        if (!conf->ca[0]) {
            set_fail(c, -1, "no CA configured to check the node's certificate with: set ECNET_CA "
                     "or ca= in %s", conf->path);
            return -1;
        }
        strcpy(s->ca, conf->ca);
    }
    return 0;
}

/* ------------------------------------------------------------------ the address */

static int parse_url(struct call *c, const char *url) {
    const char *s = url, *end, *slash, *auth_end, *host, *host_end, *port;
    size_t hlen, plen;
    unsigned char buf[sizeof(struct in6_addr)];
    long portno;
    char portbuf[8];
    while (*s == ' ' || *s == '\t') s++;
    end = s + strlen(s);
    while (end > s && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r' || end[-1] == '\n'))
        end--;
    if (end == s) {
        set_fail(c, -5, "invalid request address: strUrl is empty (https://HOST:PORT/ec/v1/trans)");
        return -1;
    }
    if ((size_t)(end - s) > 8 && !strncasecmp(s, "https://", 8)) {
        s += 8;
    } else {
        const char *p;
        for (p = s; p + 2 < end; p++) {
            if (p[0] == ':' && p[1] == '/' && p[2] == '/') {
                set_fail(c, -5, "invalid request address: %.*s (the terminal door is "
                         "https://HOST:PORT/ec/v1/trans)", (int)(end - s > 200 ? 200 : end - s),
                         s);
                return -1;
            }
        }
    }
    slash = memchr(s, '/', (size_t)(end - s));
    auth_end = slash ? slash : end;
    if (memchr(s, '@', (size_t)(auth_end - s))) {
        set_fail(c, -5, "invalid request address: no user name goes in strUrl");
        return -1;
    }
    if (*s == '[') {
        host = s + 1;
        host_end = memchr(host, ']', (size_t)(auth_end - host));
        if (!host_end || host_end + 1 >= auth_end || host_end[1] != ':') goto bad_authority;
        port = host_end + 2;
    } else {
        const char *colon = NULL, *p;
        for (p = s; p < auth_end; p++) {
            if (*p != ':') continue;
            if (colon) {
                set_fail(c, -5, "invalid request address: %.*s (an IPv6 address goes in "
                         "brackets: [::1]:PORT)", (int)(auth_end - s > 200 ? 200 : auth_end - s),
                         s);
                return -1;
            }
            colon = p;
        }
        if (!colon) goto bad_authority;
        host = s, host_end = colon, port = colon + 1;
    }
    hlen = (size_t)(host_end - host), plen = (size_t)(auth_end - port);
    if (hlen == 0 || hlen >= sizeof c->host || plen == 0 || plen >= sizeof portbuf)
        goto bad_authority;
    memcpy(c->host, host, hlen);
    c->host[hlen] = '\0';
    memcpy(portbuf, port, plen);
    portbuf[plen] = '\0';
    if (parse_long(portbuf, 1, 65535, &portno) < 0) goto bad_authority;
    snprintf(c->port, sizeof c->port, "%ld", portno);
    if (*s == '[') {
        if (inet_pton(AF_INET6, c->host, buf) != 1) goto bad_authority;
        c->host_is_ip = 1;
        snprintf(c->hostport, sizeof c->hostport, "[%s]:%s", c->host, c->port);
    } else {
        size_t i;
        c->host_is_ip = inet_pton(AF_INET, c->host, buf) == 1;
        for (i = 0; i < hlen; i++) {
            char ch = c->host[i];
            if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                  (ch >= '0' && ch <= '9') || ch == '.' || ch == '-' || ch == '_'))
                goto bad_authority;
        }
        snprintf(c->hostport, sizeof c->hostport, "%s:%s", c->host, c->port);
    }
    if (!slash || end - slash == 1) {
        strcpy(c->path, DEFAULT_PATH);
    } else {
        const char *p;
        if ((size_t)(end - slash) >= sizeof c->path) {
            set_fail(c, -5, "invalid request address: its path is longer than %d bytes",
                     (int)sizeof c->path - 1);
            return -1;
        }
        for (p = slash; p < end; p++) {
            if (*p <= ' ' || *p >= 0x7f || *p == '#') {
                set_fail(c, -5, "invalid request address: its path has a character that cannot "
                         "go in a URL (byte 0x%02x)", (unsigned char)*p);
                return -1;
            }
        }
        memcpy(c->path, slash, (size_t)(end - slash));
        c->path[end - slash] = '\0';
    }
    return 0;
bad_authority:
    set_fail(c, -5, "invalid request address: %.*s (https://HOST:PORT/ec/v1/trans, "
             "https://HOST:PORT or HOST:PORT; an IPv6 address in brackets)",
             (int)(end - url > 200 ? 200 : end - url), url);
    return -1;
}

/* ------------------------------------------------------------------ time and waiting */

static void start_clock(struct call *c) {
    clock_gettime(CLOCK_MONOTONIC, &c->deadline);
    c->deadline.tv_sec += c->set.timeout_ms / 1000;
    c->deadline.tv_nsec += (c->set.timeout_ms % 1000) * 1000000L;
    if (c->deadline.tv_nsec >= 1000000000L) {
        c->deadline.tv_sec++;
        c->deadline.tv_nsec -= 1000000000L;
    }
}

static long remaining_ms(const struct call *c) {
    struct timespec now;
    long ms;
    clock_gettime(CLOCK_MONOTONIC, &now);
    ms = (long)(c->deadline.tv_sec - now.tv_sec) * 1000L +
         (c->deadline.tv_nsec - now.tv_nsec) / 1000000L;
    return ms < 0 ? 0 : ms;
}

static void timed_out(struct call *c, const char *what) {
    set_fail(c, -3, TIMEOUT_PREFIX "no %s from %s within %ld ms", what, c->hostport,
             c->set.timeout_ms);
}

/* 1 when fd is ready for events, 0 when the time is up (-3 set), -1 on error (-3 set). */
static int wait_for(struct call *c, short events, const char *what) {
    for (;;) {
        struct pollfd p = {.fd = c->fd, .events = events, .revents = 0};
        long ms = remaining_ms(c);
        int r;
        if (ms == 0) {
            timed_out(c, what);
            return 0;
        }
        r = poll(&p, 1, (int)(ms > INT_MAX ? INT_MAX : ms));
        if (r > 0) return 1;
        if (r == 0) continue; /* the time is checked again above */
        if (errno == EINTR) continue;
        set_fail(c, -3, TIMEOUT_PREFIX "cannot wait for %s: %s", c->hostport, strerror(errno));
        return -1;
    }
}

/* ------------------------------------------------------------------ the connection */

static int connect_tcp(struct call *c) {
    struct addrinfo hints, *res = NULL, *ai;
    int rc, last_errno = 0;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV | (c->host_is_ip ? AI_NUMERICHOST : 0);
    rc = getaddrinfo(c->host, c->port, &hints, &res);
    if (rc != 0) {
        if (rc == EAI_NONAME || rc == EAI_FAIL || rc == EAI_ADDRFAMILY || rc == EAI_NODATA)
            set_fail(c, -5, "invalid request address: %s does not resolve (%s)", c->host,
                     gai_strerror(rc));
        else
            set_fail(c, -3, TIMEOUT_PREFIX "cannot resolve %s: %s", c->host,
                     rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc));
        return -1;
    }
    for (ai = res; ai; ai = ai->ai_next) {
        int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                        ai->ai_protocol);
        int one = 1, err = 0;
        socklen_t len = sizeof err;
        if (fd < 0) {
            last_errno = errno;
            continue;
        }
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        c->fd = fd;
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) break;
        if (errno == EINPROGRESS) {
            int w = wait_for(c, POLLOUT, "connection");
            if (w == 0) { /* the time is up for every address */
                close(fd);
                c->fd = -1;
                freeaddrinfo(res);
                return -1;
            }
            if (w > 0 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0)
                break;
            last_errno = w > 0 ? err : errno;
        } else {
            last_errno = errno;
        }
        close(fd);
        c->fd = -1;
    }
    freeaddrinfo(res);
    if (c->fd < 0) {
        set_fail(c, -3, TIMEOUT_PREFIX "cannot connect to %s (%s)", c->hostport,
                 strerror(last_errno ? last_errno : ECONNREFUSED));
        return -1;
    }
    return 0;
}

static int no_password(char *buf, int size, int rwflag, void *u) {
    (void)buf, (void)size, (void)rwflag, (void)u;
    return 0; /* an encrypted key is refused, never prompted for */
}

static void openssl_reason(char *buf, size_t cap) {
    unsigned long e = ERR_peek_last_error();
    const char *reason = e ? ERR_reason_error_string(e) : NULL;
    if (reason) snprintf(buf, cap, "%s", reason);
    else if (e) ERR_error_string_n(e, buf, cap);
    else snprintf(buf, cap, "no reason given");
}

static int readable(struct call *c, const char *path, const char *what) {
    FILE *f = fopen(path, "re");
    if (!f) {
        set_fail(c, -1, "cannot read the %s %s: %s", what, path, strerror(errno));
        return -1;
    }
    fclose(f);
    return 0;
}

static int make_context(struct call *c) {
    char why[256];
    const struct settings *s = &c->set;
    if (readable(c, s->ca, "CA file") < 0 || readable(c, s->cert, "terminal certificate") < 0 ||
        readable(c, s->key, "terminal key") < 0)
        return -1;
    c->ctx = SSL_CTX_new(TLS_client_method());
    if (!c->ctx) {
        openssl_reason(why, sizeof why);
        set_fail(c, -1, "TLS is not available: %s", why);
        return -1;
    }
    SSL_CTX_set_min_proto_version(c->ctx, TLS1_2_VERSION);
    SSL_CTX_set_options(c->ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
    SSL_CTX_set_default_passwd_cb(c->ctx, no_password);
    SSL_CTX_set_verify(c->ctx, SSL_VERIFY_PEER, NULL);
    if (SSL_CTX_load_verify_locations(c->ctx, s->ca, NULL) != 1) {
        openssl_reason(why, sizeof why);
        set_fail(c, -1, "the CA file %s is not usable: %s", s->ca, why);
        return -1;
    }
    if (SSL_CTX_use_certificate_chain_file(c->ctx, s->cert) != 1) {
        openssl_reason(why, sizeof why);
        set_fail(c, -1, "the terminal certificate %s is not usable: %s", s->cert, why);
        return -1;
    }
    if (SSL_CTX_use_PrivateKey_file(c->ctx, s->key, SSL_FILETYPE_PEM) != 1) {
        unsigned long e = ERR_peek_last_error();
        if (ERR_GET_LIB(e) == ERR_LIB_X509 && ERR_GET_REASON(e) == X509_R_KEY_VALUES_MISMATCH) {
            set_fail(c, -1, "the terminal key %s does not belong to the certificate %s", s->key,
                     s->cert);
            return -1;
        }
        openssl_reason(why, sizeof why);
        set_fail(c, -1, "the terminal key %s is not usable: %s", s->key, why);
        return -1;
    }
    if (SSL_CTX_check_private_key(c->ctx) != 1) {
        set_fail(c, -1, "the terminal key %s does not belong to the certificate %s", s->key,
                 s->cert);
        return -1;
    }
    if (SSL_CTX_set_alpn_protos(c->ctx, (const unsigned char *)"\x08http/1.1", 9) != 0) {
        set_fail(c, -1, "TLS is not available: ALPN refused");
        return -1;
    }
    return 0;
}

/* An alert of the node's that refuses the certificate this side presented. */
static int refused_certificate(unsigned long e) {
    int reason = ERR_GET_REASON(e);
    if (ERR_GET_LIB(e) != ERR_LIB_SSL || reason < SSL_AD_REASON_OFFSET) return 0;
    switch (reason - SSL_AD_REASON_OFFSET) {
    case SSL_AD_BAD_CERTIFICATE:
    case SSL_AD_UNSUPPORTED_CERTIFICATE:
    case SSL_AD_CERTIFICATE_REVOKED:
    case SSL_AD_CERTIFICATE_EXPIRED:
    case SSL_AD_CERTIFICATE_UNKNOWN:
    case SSL_AD_UNKNOWN_CA:
    case SSL_AD_CERTIFICATE_REQUIRED:
        return 1;
    default:
        return 0;
    }
}

/* A TLS failure after the handshake began: the node's certificate refused here, or ours
 * there (an alert), or the connection lost. */
static void tls_failed(struct call *c, int err, const char *during) {
    long verify = c->ssl ? SSL_get_verify_result(c->ssl) : X509_V_OK;
    char why[256];
    c->tls_broken = 1;
    if (verify != X509_V_OK) {
        set_fail(c, -1, "the certificate of the node at %s was refused: %s (checked against the "
                 "CA file %s for %s)", c->hostport, X509_verify_cert_error_string(verify),
                 c->set.ca, c->host);
    } else if (err == SSL_ERROR_SSL && refused_certificate(ERR_peek_last_error())) {
        /* TLS 1.3: the node judges the client's certificate after the client's side of
         * the handshake is done, so its alert arrives while the request or the answer is
         * under way */
        openssl_reason(why, sizeof why);
        set_fail(c, -1, "the node at %s does not accept the terminal certificate %s: %s "
                 "(not issued by the nation's CA, expired or revoked?)", c->hostport,
                 c->set.cert, why);
    } else if (err == SSL_ERROR_SSL) {
        openssl_reason(why, sizeof why);
        set_fail(c, -1, "TLS with %s failed during %s: %s (terminal certificate %s)",
                 c->hostport, during, why, c->set.cert);
    } else {
        set_fail(c, -3, TIMEOUT_PREFIX "the connection to %s was closed during %s (%s)",
                 c->hostport, during, err == SSL_ERROR_SYSCALL && errno ? strerror(errno)
                                                                       : "no answer");
    }
}

static int tls_handshake(struct call *c) {
    X509_VERIFY_PARAM *param;
    c->ssl = SSL_new(c->ctx);
    if (!c->ssl || SSL_set_fd(c->ssl, c->fd) != 1) {
        set_fail(c, -1, "TLS is not available: cannot make a session");
        return -1;
    }
    param = SSL_get0_param(c->ssl);
    X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    if (c->host_is_ip) {
        if (X509_VERIFY_PARAM_set1_ip_asc(param, c->host) != 1) {
            set_fail(c, -5, "invalid request address: %s", c->host);
            return -1;
        }
    } else if (X509_VERIFY_PARAM_set1_host(param, c->host, 0) != 1 ||
               SSL_set_tlsext_host_name(c->ssl, c->host) != 1) {
        set_fail(c, -5, "invalid request address: %s", c->host);
        return -1;
    }
    for (;;) {
        int r, e;
        ERR_clear_error();
        errno = 0;
        r = SSL_connect(c->ssl);
        if (r == 1) return 0;
        e = SSL_get_error(c->ssl, r);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
            if (wait_for(c, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, "TLS handshake") <= 0)
                return -1;
            continue;
        }
        tls_failed(c, e, "the handshake");
        return -1;
    }
}

static int tls_write_all(struct call *c, const char *data, size_t len) {
    while (len) {
        size_t done = 0;
        int r, e;
        ERR_clear_error();
        errno = 0;
        r = SSL_write_ex(c->ssl, data, len, &done);
        if (r == 1) {
            data += done, len -= done;
            continue;
        }
        e = SSL_get_error(c->ssl, r);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
            if (wait_for(c, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, "room to send") <= 0)
                return -1;
            continue;
        }
        tls_failed(c, e, "the request");
        return -1;
    }
    return 0;
}

/* Bytes of the answer: n > 0, 0 at the end of the stream, -1 on failure (set). */
static long tls_read(struct call *c, char *buf, size_t cap) {
    for (;;) {
        size_t got = 0;
        int r, e;
        ERR_clear_error();
        errno = 0;
        r = SSL_read_ex(c->ssl, buf, cap, &got);
        if (r == 1) return (long)got;
        e = SSL_get_error(c->ssl, r);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
            if (wait_for(c, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, "answer") <= 0)
                return -1;
            continue;
        }
        if (e == SSL_ERROR_ZERO_RETURN) return 0;
#ifdef SSL_R_UNEXPECTED_EOF_WHILE_READING
        if (e == SSL_ERROR_SSL &&
            ERR_GET_REASON(ERR_peek_last_error()) == SSL_R_UNEXPECTED_EOF_WHILE_READING)
            return 0; /* closed without close_notify: the body's length tells if it is whole */
#endif
        tls_failed(c, e, "the answer");
        return -1;
    }
}

/* ------------------------------------------------------------------ HTTP */

struct reader {
    struct call *c;
    char line[MAX_HEADER]; /* the status line and the headers, one at a time */
    char buf[16384];
    size_t pos, len;
    size_t received; /* bytes of the answer so far */
    int eof;
};

/* More bytes into the reader: 1, or 0 at the end, -1 on failure. */
static int fill(struct reader *r) {
    long n;
    if (r->pos < r->len) return 1;
    if (r->eof) return 0;
    n = tls_read(r->c, r->buf, sizeof r->buf);
    if (n < 0) return -1;
    if (n == 0) {
        r->eof = 1;
        return 0;
    }
    r->pos = 0, r->len = (size_t)n;
    r->received += (size_t)n;
    return 1;
}

struct body {
    char *data;
    size_t len, cap; /* cap: out_max - 1, room for the NUL */
    int overflow;
};

static int take(struct body *b, const char *src, size_t n) {
    if (b->len + n > b->cap) {
        b->overflow = 1;
        return -1;
    }
    memcpy(b->data + b->len, src, n);
    b->len += n;
    return 0;
}

/* A line of the stream (CRLF or LF), without its end, in line; -1 when too long or cut. */
static int read_line(struct reader *r, char *line, size_t cap, const char *what) {
    size_t n = 0;
    for (;;) {
        int f = fill(r);
        char ch;
        if (f < 0) return -1;
        if (f == 0 && r->received == 0) {
            /* a node refuses a certificate with an alert (tls_failed); one that went away
             * in the middle of the call, or a proxy that refused without one, ends here */
            set_fail(r->c, -3, TIMEOUT_PREFIX "the node at %s closed the connection without "
                     "an answer (if it keeps doing so, it may not accept the terminal "
                     "certificate %s)", r->c->hostport, r->c->set.cert);
            return -1;
        }
        if (f == 0) {
            set_fail(r->c, -3, TIMEOUT_PREFIX "the answer of %s ended inside its %s",
                     r->c->hostport, what);
            return -1;
        }
        ch = r->buf[r->pos++];
        if (ch == '\n') {
            if (n && line[n - 1] == '\r') n--;
            line[n] = '\0';
            return 0;
        }
        if (n + 1 >= cap) {
            set_fail(r->c, -1, "the answer of %s has a %s line longer than %zu bytes",
                     r->c->hostport, what, cap - 1);
            return -1;
        }
        line[n++] = ch;
    }
}

/* n bytes (or, with until_end, everything to the end of the stream) into b. */
static int read_bytes(struct reader *r, struct body *b, size_t n, int until_end) {
    while (until_end || n) {
        size_t k;
        int f = fill(r);
        if (f < 0) return -1;
        if (f == 0) {
            if (until_end) return 0;
            set_fail(r->c, -3, TIMEOUT_PREFIX "the answer of %s ended %zu bytes short of its "
                     "length", r->c->hostport, n);
            return -1;
        }
        k = r->len - r->pos;
        if (!until_end && k > n) k = n;
        if (take(b, r->buf + r->pos, k) < 0) return -1;
        r->pos += k;
        if (!until_end) n -= k;
    }
    return 0;
}

static int read_chunked(struct reader *r, struct body *b) {
    char line[256];
    for (;;) {
        char *end;
        unsigned long long size;
        if (read_line(r, line, sizeof line, "chunk size") < 0) return -1;
        errno = 0;
        size = strtoull(line, &end, 16);
        if (end == line || errno || (*end && *end != ';' && *end != ' ' && *end != '\t')) {
            set_fail(r->c, -1, "the answer of %s has a chunk size that is not one: %.40s",
                     r->c->hostport, line);
            return -1;
        }
        if (size == 0) break;
        if (size > b->cap) {
            b->overflow = 1;
            return -1;
        }
        if (read_bytes(r, b, (size_t)size, 0) < 0) return -1;
        if (read_line(r, line, sizeof line, "chunk end") < 0) return -1;
        if (line[0]) {
            set_fail(r->c, -1, "the answer of %s has a chunk longer than its size",
                     r->c->hostport);
            return -1;
        }
    }
    do { /* trailers, to the empty line */
        if (read_line(r, line, sizeof line, "trailer") < 0) return -1;
    } while (line[0]);
    return 0;
}

struct head {
    int status;
    int chunked;
    int has_length;
    unsigned long long length;
};

/* The status line and headers; 1xx answers are skipped. */
static int read_head(struct reader *r, struct head *h) {
    char *line = r->line;
    size_t total;
    for (;;) {
        char *p;
        memset(h, 0, sizeof *h);
        if (read_line(r, line, MAX_HEADER, "status") < 0) return -1;
        if (strncmp(line, "HTTP/1.", 7) || !line[7] || line[8] != ' ' ||
            !(line[9] >= '1' && line[9] <= '5') || !(line[10] >= '0' && line[10] <= '9') ||
            !(line[11] >= '0' && line[11] <= '9') || (line[12] && line[12] != ' ')) {
            set_fail(r->c, -1, "%s did not answer HTTP/1.1: %.60s (is it the terminal door?)",
                     r->c->hostport, line);
            return -1;
        }
        h->status = (line[9] - '0') * 100 + (line[10] - '0') * 10 + (line[11] - '0');
        total = strlen(line);
        for (;;) {
            if (read_line(r, line, MAX_HEADER, "header") < 0) return -1;
            if (!line[0]) break;
            total += strlen(line);
            if (total > MAX_HEADER) {
                set_fail(r->c, -1, "the headers of the answer of %s are longer than %d bytes",
                         r->c->hostport, MAX_HEADER);
                return -1;
            }
            if (!(p = strchr(line, ':'))) continue;
            *p++ = '\0';
            p = trim(p);
            if (!strcasecmp(line, "Content-Length")) {
                char *end;
                errno = 0;
                h->length = strtoull(p, &end, 10);
                if (end == p || *end || errno || *p == '-') {
                    set_fail(r->c, -1, "the answer of %s has a Content-Length that is not one: "
                             "%.40s", r->c->hostport, p);
                    return -1;
                }
                h->has_length = 1;
            } else if (!strcasecmp(line, "Transfer-Encoding")) {
                if (strcasestr(p, "chunked")) h->chunked = 1;
            }
        }
        if (h->status >= 200) return 0;
    }
}

/* ------------------------------------------------------------------ the answer's JSON */

struct json {
    const char *s, *end;
    int depth;
};

static void j_ws(struct json *j) {
    while (j->s < j->end && (*j->s == ' ' || *j->s == '\t' || *j->s == '\n' || *j->s == '\r'))
        j->s++;
}

static int j_value(struct json *j);

static int j_string(struct json *j, const char **start, size_t *len) {
    if (j->s >= j->end || *j->s != '"') return -1;
    j->s++;
    if (start) *start = j->s;
    while (j->s < j->end && *j->s != '"') {
        unsigned char ch = (unsigned char)*j->s;
        if (ch < 0x20) return -1;
        if (ch == '\\') {
            j->s++;
            if (j->s >= j->end) return -1;
            if (*j->s == 'u') {
                int i;
                for (i = 1; i <= 4; i++)
                    if (j->s + i >= j->end || !strchr("0123456789abcdefABCDEF", j->s[i]) ||
                        !j->s[i])
                        return -1;
                j->s += 4;
            } else if (!strchr("\"\\/bfnrt", *j->s) || !*j->s) {
                return -1;
            }
        }
        j->s++;
    }
    if (j->s >= j->end) return -1;
    if (len) *len = (size_t)(j->s - *start);
    j->s++;
    return 0;
}

/* A JSON number; *integer set when it has no fraction and no exponent. */
static int j_number(struct json *j, int *integer) {
    const char *p = j->s;
    int digits = 0;
    *integer = 1;
    if (p < j->end && *p == '-') p++;
    if (p < j->end && *p == '0') p++, digits = 1;
    else
        while (p < j->end && *p >= '0' && *p <= '9') p++, digits++;
    if (!digits) return -1;
    if (p < j->end && *p == '.') {
        *integer = 0, p++, digits = 0;
        while (p < j->end && *p >= '0' && *p <= '9') p++, digits++;
        if (!digits) return -1;
    }
    if (p < j->end && (*p == 'e' || *p == 'E')) {
        *integer = 0, p++, digits = 0;
        if (p < j->end && (*p == '+' || *p == '-')) p++;
        while (p < j->end && *p >= '0' && *p <= '9') p++, digits++;
        if (!digits) return -1;
    }
    j->s = p;
    return 0;
}

static int j_literal(struct json *j, const char *word) {
    size_t n = strlen(word);
    if ((size_t)(j->end - j->s) < n || memcmp(j->s, word, n)) return -1;
    j->s += n;
    return 0;
}

static int j_container(struct json *j, char close) {
    if (++j->depth > 64) return -1;
    j->s++;
    j_ws(j);
    if (j->s < j->end && *j->s == close) {
        j->s++;
        j->depth--;
        return 0;
    }
    for (;;) {
        if (close == '}') {
            if (j_string(j, NULL, NULL) < 0) return -1;
            j_ws(j);
            if (j->s >= j->end || *j->s != ':') return -1;
            j->s++;
            j_ws(j);
        }
        if (j_value(j) < 0) return -1;
        j_ws(j);
        if (j->s < j->end && *j->s == ',') {
            j->s++;
            j_ws(j);
            continue;
        }
        if (j->s < j->end && *j->s == close) {
            j->s++;
            j->depth--;
            return 0;
        }
        return -1;
    }
}

static int j_value(struct json *j) {
    int integer;
    if (j->s >= j->end) return -1;
    switch (*j->s) {
    case '{': return j_container(j, '}');
    case '[': return j_container(j, ']');
    case '"': return j_string(j, NULL, NULL);
    case 't': return j_literal(j, "true");
    case 'f': return j_literal(j, "false");
    case 'n': return j_literal(j, "null");
    default: return j_number(j, &integer);
    }
}

/* The integer "code" of a JSON object: 1 found (in *code), 0 a JSON object without an
 * integer code, -1 not a JSON object. */
static int answer_code_of(const char *text, size_t len, long long *code) {
    struct json j = {.s = text, .end = text + len, .depth = 1};
    int found = 0;
    j_ws(&j);
    if (j.s >= j.end || *j.s != '{') return -1;
    j.s++;
    j_ws(&j);
    if (j.s < j.end && *j.s == '}') {
        j.s++;
    } else {
        for (;;) {
            const char *key;
            size_t klen;
            if (j_string(&j, &key, &klen) < 0) return -1;
            j_ws(&j);
            if (j.s >= j.end || *j.s != ':') return -1;
            j.s++;
            j_ws(&j);
            if (klen == 4 && !memcmp(key, "code", 4) && j.s < j.end &&
                (*j.s == '-' || (*j.s >= '0' && *j.s <= '9'))) {
                const char *start = j.s;
                int integer;
                char digits[32];
                if (j_number(&j, &integer) < 0) return -1;
                if (integer && (size_t)(j.s - start) < sizeof digits) {
                    memcpy(digits, start, (size_t)(j.s - start));
                    digits[j.s - start] = '\0';
                    errno = 0;
                    *code = strtoll(digits, NULL, 10);
                    found = errno == 0;
                }
            } else if (j_value(&j) < 0) {
                return -1;
            }
            j_ws(&j);
            if (j.s < j.end && *j.s == ',') {
                j.s++;
                j_ws(&j);
                continue;
            }
            if (j.s < j.end && *j.s == '}') {
                j.s++;
                break;
            }
            return -1;
        }
    }
    j_ws(&j);
    if (j.s != j.end) return -1;
    return found;
}

/* Printable start of a body that is not the door's JSON, for a message. */
static void excerpt(char *dst, size_t cap, const char *src, size_t len) {
    size_t i, n = 0;
    for (i = 0; i < len && n + 1 < cap && n < 120; i++)
        dst[n++] = (src[i] >= 0x20 && src[i] < 0x7f) ? src[i] : ' ';
    dst[n] = '\0';
}

/* ------------------------------------------------------------------ the call */

static char *transact(struct call *c, const char *in, char *out) {
    struct reader *r = NULL;
    struct body b = {0};
    struct head h;
    char *request = NULL;
    char *ret = NULL;
    size_t in_len = strlen(in), head_len;
    int n;

    start_clock(c);
    if (make_context(c) < 0 || connect_tcp(c) < 0 || tls_handshake(c) < 0) goto failed;

    head_len = strlen(c->path) + strlen(c->hostport) + 256;
    request = malloc(head_len + in_len);
    r = calloc(1, sizeof *r);
    b.cap = c->set.out_max - 1;
    b.data = malloc(c->set.out_max);
    if (!request || !r || !b.data) {
        set_fail(c, -1, "out of memory");
        goto failed;
    }
    n = snprintf(request, head_len,
                 "POST %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: nationeccode/1\r\n"
                 "Content-Type: application/json; charset=utf-8\r\nAccept: application/json\r\n"
                 "Content-Length: %zu\r\nConnection: close\r\n\r\n",
                 c->path, c->hostport, in_len);
    memcpy(request + n, in, in_len);
    r->c = c;
    if (tls_write_all(c, request, (size_t)n + in_len) < 0) {
        /* a node that refuses a request (413 too long) may answer and close before it has
         * read it all: its answer, when there is one, says more than the broken write */
        int code = c->code;
        char msg[MSG_MAX];
        if (c->code != -3 || remaining_ms(c) == 0) goto failed;
        memcpy(msg, c->msg, sizeof msg);
        c->tls_broken = 0;
        if (read_head(r, &h) < 0) {
            c->code = code;
            memcpy(c->msg, msg, sizeof msg);
            goto failed;
        }
    } else if (read_head(r, &h) < 0) {
        goto failed;
    }
    if (h.chunked) {
        if (read_chunked(r, &b) < 0) goto failed;
    } else if (h.has_length) {
        if (h.length > b.cap) {
            set_fail(c, -1, "the answer of %s (%llu bytes) does not fit OutData (%zu bytes, "
                     "out_max)", c->hostport, h.length, c->set.out_max);
            goto failed;
        }
        if (read_bytes(r, &b, (size_t)h.length, 0) < 0) goto failed;
    } else if (read_bytes(r, &b, 0, 1) < 0) {
        goto failed;
    }
    b.data[b.len] = '\0';
    {
        long long code = 0;
        int found = answer_code_of(b.data, b.len, &code);
        char text[128];
        if (found == 1 && !(code == 0 && h.status != 200)) {
            memcpy(out, b.data, b.len + 1);
            if (code == 0) ret = answer_code(NATIONEC_SUCCESS);
            else {
                snprintf(ret_buf, sizeof ret_buf, "%lld", code);
                ret = ret_buf;
            }
            goto done;
        }
        excerpt(text, sizeof text, b.data, b.len);
        if (found == 1)
            set_fail(c, -1, "%s answered HTTP %d with code 0: %s", c->hostport, h.status, text);
        else
            set_fail(c, -1, "%s answered HTTP %d without the door's JSON {\"code\": ...}%s%s "
                     "(is it the terminal door?)", c->hostport, h.status, b.len ? ": " : "",
                     text);
    }
failed:
    if (b.overflow)
        set_fail(c, -1, "the answer of %s is longer than OutData (%zu bytes, out_max)",
                 c->hostport, c->set.out_max);
    ret = refuse(out, c->set.out_max, c->code, c->msg);
done:
    if (c->ssl) {
        if (!c->tls_broken && SSL_is_init_finished(c->ssl))
            SSL_shutdown(c->ssl); /* non-blocking: sent once, never waited for */
        SSL_free(c->ssl);
    }
    if (c->ctx) SSL_CTX_free(c->ctx);
    if (c->fd >= 0) close(c->fd);
    free(request);
    free(r);
    free(b.data);
    return ret;
}

char *NationEcTrans(char *strUrl, char *InData, char *OutData) {
    struct call *c;
    struct conf *conf;
    sigset_t pipe_set, old, pending;
    int pipe_was_pending;
    char *ret;

    if (!OutData) return answer_code("-2");
    c = calloc(1, sizeof *c);
    conf = calloc(1, sizeof *conf);
    if (!c || !conf) {
        free(c);
        free(conf);
        return refuse(OutData, MIN_OUT, -1, "out of memory");
    }
    c->fd = -1;

    /* a node that closes while we write must not kill the caller's process (SIGPIPE) */
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
    sigpending(&pending);
    pipe_was_pending = sigismember(&pending, SIGPIPE);

    if (load_settings(c, conf) < 0) {
        ret = refuse(OutData, c->set.out_max, c->code, c->msg);
    } else if (!strUrl || parse_url(c, strUrl) < 0) {
        if (!strUrl) set_fail(c, -5, "invalid request address: strUrl is NULL");
        ret = refuse(OutData, c->set.out_max, c->code, c->msg);
    } else if (!InData || !*InData) {
        ret = refuse(OutData, c->set.out_max, -2,
                     InData ? "InData is empty: the request of table B.1 {orgId, transType, "
                              "data, extra} goes there"
                            : "InData is NULL: the request of table B.1 {orgId, transType, "
                              "data, extra} goes there");
    } else if (find_certificates(c, conf) < 0) {
        ret = refuse(OutData, c->set.out_max, c->code, c->msg);
    } else {
        ret = transact(c, InData, OutData);
    }

    if (!pipe_was_pending) {
        struct timespec zero = {0, 0};
        sigpending(&pending);
        while (sigismember(&pending, SIGPIPE) && sigtimedwait(&pipe_set, NULL, &zero) < 0 &&
               errno == EINTR) {
        }
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    ERR_clear_error();
    free(c);
    free(conf);
    return ret;
}
