/* main.c — `ccs VERB ...`: find the verb, hand it the arguments; `ccs --help` and `ccs help VERB`. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/cli.h"
#include "util/log.h"
#include "util/suggest.h"

#ifndef CCS_VERSION
#define CCS_VERSION "0.1.0"
#endif

/* Every verb, in the order of the overview. */
static const struct cli_verb *const verbs[] = {
    &cli_verb_deploy, &cli_verb_store,  &cli_verb_account, &cli_verb_cert,  &cli_verb_renew,
    &cli_verb_status, &cli_verb_task,   &cli_verb_config,  &cli_verb_serve,
};
#define VERB_COUNT (sizeof(verbs) / sizeof(verbs[0]))

/* The overview: one line per command, sub-verbs spelled out. */
static void usage(FILE *out)
{
    fputs("usage: ccs VERB [SUB-VERB] [OPTIONS]\n"
          "       ccs --version\n"
          "       ccs help VERB [SUB-VERB]\n"
          "\n",
          out);
    for (size_t i = 0; i < VERB_COUNT; i++) {
        const struct cli_verb *v = verbs[i];
        if (v->command) {
            fprintf(out, "  %-20s%s\n", v->name, v->command->summary);
            continue;
        }
        for (const struct cli_subverb *s = v->subverbs; s->command; s++)
            fprintf(out, "  %-20s%s\n", s->command->name, s->command->summary);
    }
    fputs("\n`ccs VERB --help` and `ccs VERB SUB-VERB --help` describe the options, with examples;\n"
          "`ccs help VERB` opens the manual page (man ccs, man ccs.conf).\n",
          out);
}

static const struct cli_verb *find_verb(const char *name)
{
    for (size_t i = 0; i < VERB_COUNT; i++)
        if (strcmp(verbs[i]->name, name) == 0)
            return verbs[i];
    return NULL;
}

/* Print that VERB is unknown, with the nearest verb (util/suggest.h), and the overview. */
static int unknown_verb(const char *verb)
{
    struct suggestion near = {NULL, 0};

    for (size_t i = 0; i < VERB_COUNT; i++)
        suggest_consider(&near, verb, verbs[i]->name);
    if (near.best)
        fprintf(stderr, "ccs: unknown verb \"%s\" (did you mean \"%s\"?)\n", verb, near.best);
    else
        fprintf(stderr, "ccs: unknown verb \"%s\"\n", verb);
    usage(stderr);
    return EXIT_FAILED;
}

/* `man -w PAGE` succeeds: man is installed and knows the page. */
static int man_page_installed(const char *page)
{
    pid_t pid = fork();
    int status, null_fd;

    if (pid < 0)
        return 0;
    if (pid == 0) {
        null_fd = open("/dev/null", O_WRONLY);
        if (null_fd >= 0) {
            dup2(null_fd, STDOUT_FILENO);
            dup2(null_fd, STDERR_FILENO);
        }
        execlp("man", "man", "-w", page, (char *)NULL);
        _exit(127);
    }
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return 0;
    return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

/* `ccs help [VERB [SUB-VERB]]`: on a terminal with man and the page installed, the manual page;
 * otherwise (piped, no man, no page) the same text as `ccs VERB [SUB-VERB] --help`. */
static int help(int argc, char **argv)
{
    const struct cli_verb *verb;
    const struct cli_subverb *sub = NULL;
    const char *page = "ccs";

    if (argc > 4)
        return unknown_verb(argv[4]);
    if (argc < 3) {
        verb = NULL;
    } else if ((verb = find_verb(argv[2])) == NULL) {
        return unknown_verb(argv[2]);
    } else {
        page = verb->man;
        if (argc == 4 && verb->command) {
            fprintf(stderr, "ccs help: %s has no sub-verbs\n", verb->name);
            return EXIT_FAILED;
        }
        if (argc == 4) {
            for (sub = verb->subverbs; sub && sub->command; sub++)
                if (strcmp(sub->command->name + strlen(verb->name) + 1, argv[3]) == 0)
                    break;
            if (!sub || !sub->command)
                return cli_run_verb(verb, 2, argv + 2); /* the unknown sub-verb, suggested */
        }
    }
    if (isatty(STDOUT_FILENO) && man_page_installed(page)) {
        fflush(stdout);
        execlp("man", "man", page, (char *)NULL);
        /* man vanished between the two calls: print the help instead */
    }
    if (!verb)
        usage(stdout);
    else if (sub)
        cli_help(sub->command, stdout);
    else
        cli_verb_help(verb, stdout);
    return 0;
}

int main(int argc, char **argv)
{
    const struct cli_verb *verb;
    /* CCS_DEBUG=1: debug lines too (ACME retries, the http-01 responder's tokens, libsmbclient's
     * own log). No option: every verb would need one, and this is for a bug report. */
    const char *debug = getenv("CCS_DEBUG");

    if (debug && strcmp(debug, "1") == 0)
        log_set_verbosity(LOG_LEVEL_DEBUG);
    if (argc < 2) {
        usage(stderr);
        return EXIT_FAILED;
    }
    if ((verb = find_verb(argv[1])) != NULL)
        return cli_run_verb(verb, argc - 1, argv + 1);
    if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0) {
        printf("ccs %s\n", CCS_VERSION);
        return 0;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)
        usage(stdout);
    else if (strcmp(argv[1], "help") == 0)
        return help(argc, argv);
    else
        return unknown_verb(argv[1]);
    return 0;
}
