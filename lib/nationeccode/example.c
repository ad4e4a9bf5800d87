/*
 * nationeccode-example: one NationEcTrans call from the command line.
 *
 *     nationeccode-example URL [INDATA]
 *
 * URL is the terminal door of the provincial node (https://HOST:PORT/ec/v1/trans);
 * INDATA the request of table B.1 as JSON text, read from standard input when it is
 * missing or "-". The terminal's certificate is found as nationeccode.h says
 * (ECNET_TERMINAL_CERT/ECNET_TERMINAL_KEY/ECNET_CA, ECNET_TERMINAL_ID/ECNET_TERMINALS, or
 * nationeccode.conf beside the library). Prints the return value on the first line and
 * OutData on the second; exits 0 when the return is "0000", 1 otherwise, 2 on misuse.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nationeccode.h"

static char *read_stdin(void) {
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    size_t n;
    if (!buf) return NULL;
    while ((n = fread(buf + len, 1, cap - len - 1, stdin)) > 0) {
        len += n;
        if (cap - len - 1 == 0) {
            char *bigger = realloc(buf, cap * 2);
            if (!bigger) {
                free(buf);
                return NULL;
            }
            buf = bigger, cap *= 2;
        }
    }
    buf[len] = '\0';
    return buf;
}

int main(int argc, char **argv) {
    static char out[NATIONEC_OUT_MAX];
    char *in, *ret;
    int from_stdin;
    if (argc < 2 || argc > 3 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
        fprintf(stderr, "usage: %s URL [INDATA | -]\n"
                        "  URL     https://HOST:PORT/ec/v1/trans (the terminal door)\n"
                        "  INDATA  the request of table B.1 as JSON (stdin when - or absent)\n",
                argv[0]);
        return 2;
    }
    from_stdin = argc == 2 || !strcmp(argv[2], "-");
    in = from_stdin ? read_stdin() : argv[2];
    if (!in) {
        fprintf(stderr, "%s: cannot read standard input\n", argv[0]);
        return 2;
    }
    ret = NationEcTrans(argv[1], in, out);
    printf("%s\n%s\n", ret, out);
    if (from_stdin) free(in);
    return strcmp(ret, NATIONEC_SUCCESS) ? 1 : 0;
}
