#include "util/log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

static enum log_level verbosity = LOG_LEVEL_INFO;

void log_set_verbosity(enum log_level most_verbose)
{
    verbosity = most_verbose;
}

static void (*line_hook)(void);

void log_set_line_hook(void (*hook)(void))
{
    flockfile(stderr);
    line_hook = hook;
    funlockfile(stderr);
}

static int journal;
static pthread_once_t journal_once = PTHREAD_ONCE_INIT;

/* systemd sets JOURNAL_STREAM=DEV:INODE for the stream it connected to stderr (systemd.exec(5)). */
static void journal_check(void)
{
    const char *stream = getenv("JOURNAL_STREAM");
    unsigned long long dev, ino;
    struct stat st;

    if (stream && sscanf(stream, "%llu:%llu", &dev, &ino) == 2 && fstat(2, &st) == 0)
        journal = (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

/* Once, whatever thread logs first (ccs serve logs from several). */
static int stderr_is_journal(void)
{
    pthread_once(&journal_once, journal_check);
    return journal;
}

static const char *level_word(enum log_level level)
{
    switch (level) {
    case LOG_LEVEL_ERROR:
        return "error: ";
    case LOG_LEVEL_WARNING:
        return "warning: ";
    case LOG_LEVEL_DEBUG:
        return "debug: ";
    default:
        return "";
    }
}

void log_msg(enum log_level level, const char *fmt, ...)
{
    va_list ap;

    if (level > verbosity)
        return;
    flockfile(stderr); /* one whole line at a time, whichever threads log */
    if (line_hook)
        line_hook();
    if (stderr_is_journal())
        fprintf(stderr, "<%d>%s", (int)level, level_word(level));
    else
        fprintf(stderr, "ccs: %s", level_word(level));
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    funlockfile(stderr);
}
