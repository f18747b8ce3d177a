/* responder_serve — the built-in http-01 responder (src/acme/challenge_http01_responder.c) on its
 * own, for bench/responder-flood: listens on ADDR:PORT, publishes TOKEN with KEY_AUTHORIZATION,
 * prints "ready" on stdout, and stops when stdin reaches end of file.
 *
 *     responder_serve 127.0.0.1 5002 TOKEN KEY_AUTHORIZATION
 *
 * It uses only the solver interface of src/acme/challenge.h, so the bench script can build it
 * against the responder of any earlier commit and compare the two in one run. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "acme/challenge.h"

int main(int argc, char **argv)
{
    struct challenge_solver s;
    struct acme_challenge_data c = {.type = "http-01", .identifier_type = "dns"};
    struct errbuf err = {""};
    char buf[64];

    if (argc != 5) {
        fprintf(stderr, "usage: responder_serve ADDR PORT TOKEN KEY_AUTHORIZATION\n");
        return 2;
    }
    c.identifier = "bench.test";
    c.token = argv[3];
    c.key_authorization = argv[4];
    if (challenge_http01_responder_new(argv[1], atoi(argv[2]), &s, &err) < 0 ||
        s.ops->begin(&s, &c, &err) < 0) {
        fprintf(stderr, "responder_serve: %s\n", err.msg);
        return 1;
    }
    printf("ready\n");
    fflush(stdout);
    while (read(0, buf, sizeof(buf)) > 0)
        ;
    s.ops->finish(&s, &c, 1, &err);
    s.ops->destroy(&s);
    return 0;
}
