/* progress.c — the progress line of `ccs renew` (progress.h). */
#include "cli/progress.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/table.h"
#include "manage/renew.h"
#include "util/log.h"

/* Erase the line the cursor is on, from its start (ECMA-48 EL, "erase in line"). */
#define CLEAR_LINE "\r\033[K"

/* The state of the line. Taken with stderr locked first (flockfile: whole lines on the terminal),
 * then LINE_LOCK (a mutex the thread checkers see; the log hook runs with stderr locked already,
 * so that order everywhere). */
static pthread_mutex_t line_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
    int on, drawn;
    size_t total, done, failed;
    char current[256];
    FILE *out; /* progress_stdout()'s stream, or stdout */
} line;

/* Columns of the terminal on stderr (COLUMNS first, as table.h's for stdout), less one: a line
 * that fills the last column wraps on some terminals, and "\r" would then redraw one line down. */
static int line_width(void)
{
    struct winsize ws;
    const char *columns = getenv("COLUMNS");
    int width = 80;

    if (columns && atoi(columns) > 0)
        width = atoi(columns);
    else if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
        width = ws.ws_col;
    return width > 1 ? width - 1 : 1;
}

/* Called with stderr and LINE_LOCK locked. */
static void clear_locked(void)
{
    if (!line.drawn)
        return;
    fputs(CLEAR_LINE, stderr);
    fflush(stderr);
    line.drawn = 0;
}

static void draw_locked(void)
{
    char text[512], name[4 * sizeof(line.current)], shown[sizeof(text)];

    cli_escape(line.current, name, sizeof(name));
    snprintf(text, sizeof(text), "renew: %zu/%zu done, %zu failed%s%s", line.done, line.total,
             line.failed, line.current[0] ? ": " : "", name);
    cli_fit(text, line_width(), shown, sizeof(shown));
    fprintf(stderr, CLEAR_LINE "%s", shown);
    fflush(stderr);
    line.drawn = 1;
}

/* util/log.h's line hook: a log line starts on a line of its own. */
static void before_log_line(void)
{
    pthread_mutex_lock(&line_lock);
    clear_locked();
    pthread_mutex_unlock(&line_lock);
}

int progress_start(size_t total)
{
    memset(&line, 0, sizeof(line));
    line.out = stdout;
    if (!isatty(STDERR_FILENO))
        return 0;
    line.on = 1;
    line.total = total;
    log_set_line_hook(before_log_line);
    return 1;
}

void progress_event(void *arg, const char *name, const struct renew_outcome *done)
{
    (void)arg;
    if (!line.on)
        return;
    flockfile(stderr);
    pthread_mutex_lock(&line_lock);
    if (done) {
        line.done++;
        line.failed += done->status == RENEW_FAILED || done->tasks_failed;
    } else {
        snprintf(line.current, sizeof(line.current), "%s", name);
    }
    if (line.done == line.total)
        line.current[0] = '\0';
    draw_locked();
    pthread_mutex_unlock(&line_lock);
    funlockfile(stderr);
}

/* The stream of progress_stdout(): the line is cleared before anything reaches stdout. */
static ssize_t through_write(void *cookie, const char *buf, size_t size)
{
    size_t n;

    (void)cookie;
    flockfile(stderr);
    pthread_mutex_lock(&line_lock);
    clear_locked();
    pthread_mutex_unlock(&line_lock);
    funlockfile(stderr);
    n = fwrite(buf, 1, size, stdout);
    fflush(stdout);
    return n == 0 && size > 0 ? -1 : (ssize_t)n;
}

FILE *progress_stdout(void)
{
    static const cookie_io_functions_t through = {.write = through_write};
    FILE *f;

    if (!line.on || !isatty(STDOUT_FILENO))
        return stdout;
    f = fopencookie(NULL, "w", through);
    if (!f)
        return stdout;
    setvbuf(f, NULL, _IOLBF, 0);
    line.out = f;
    return f;
}

void progress_end(void)
{
    if (line.out && line.out != stdout)
        fclose(line.out);
    line.out = NULL;
    if (!line.on)
        return;
    flockfile(stderr);
    pthread_mutex_lock(&line_lock);
    clear_locked();
    pthread_mutex_unlock(&line_lock);
    funlockfile(stderr);
    log_set_line_hook(NULL);
    line.on = 0;
}
