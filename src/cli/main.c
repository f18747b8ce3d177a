/* main.c — `ccs VERB ...`: find the verb, hand it the arguments. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

#ifndef CCS_VERSION
#define CCS_VERSION "0.1.0"
#endif

static void usage(FILE *out)
{
    fputs("usage: ccs VERB [OPTIONS]\n"
          "\n"
          "  deploy        put a certificate into a store (one PFX per host name)\n"
          "  store list    one row per certificate file\n"
          "  store lookup  which file would serve a host, and by which rule\n"
          "  store check   everything that would make a server fail\n"
          "  store rekey   change the store password: every file re-encrypted at once\n"
          "  account       register|show|update|deactivate|rollover an ACME account\n"
          "  cert          request a certificate from an ACME CA, or revoke one\n"
          "  renew         keep the managed certificates of ccs.conf valid and delivered\n"
          "  status        one row per managed certificate\n"
          "  task run      run a deployment task by hand\n"
          "  config check  every error in the configuration, with file and line\n"
          "  serve         a TLS terminator serving each name's certificate from the store\n"
          "\n"
          "`ccs VERB --help` describes a verb's options. See README.md for the reference.\n",
          out);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return EXIT_FAILED;
    }
    if (strcmp(argv[1], "deploy") == 0)
        return cmd_deploy(argc - 1, argv + 1);
    if (strcmp(argv[1], "store") == 0)
        return cmd_store(argc - 1, argv + 1);
    if (strcmp(argv[1], "account") == 0)
        return cmd_account(argc - 1, argv + 1);
    if (strcmp(argv[1], "cert") == 0)
        return cmd_cert(argc - 1, argv + 1);
    if (strcmp(argv[1], "renew") == 0)
        return cmd_renew(argc - 1, argv + 1);
    if (strcmp(argv[1], "status") == 0)
        return cmd_status(argc - 1, argv + 1);
    if (strcmp(argv[1], "task") == 0)
        return cmd_task(argc - 1, argv + 1);
    if (strcmp(argv[1], "config") == 0)
        return cmd_config(argc - 1, argv + 1);
    if (strcmp(argv[1], "serve") == 0)
        return cmd_serve(argc - 1, argv + 1);
    if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0) {
        printf("ccs %s\n", CCS_VERSION);
        return 0;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return 0;
    }
    fprintf(stderr, "ccs: error: unknown verb \"%s\"\n", argv[1]);
    usage(stderr);
    return EXIT_FAILED;
}
