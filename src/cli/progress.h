/* progress.h — `ccs renew`'s progress on a terminal: one line on stderr, redrawn in place
 * ("\r"), saying how many certificates are done of how many, how many failed so far, and which
 * one is being worked on; cleared when the run ends.
 *
 * Only when stderr is a terminal. Under journald, in a pipe or a file, nothing of it is written:
 * the output stays one line per certificate (renew.c's), with no "\r" anywhere.
 *
 * Other output must not land on the line: the log (util/log.h's line hook) and the renewer's own
 * lines (progress_stdout(), given as renew_options.out) clear it first; the next event redraws
 * it. Every write of the line happens with stderr locked (flockfile), so whole lines. */
#ifndef CCS_CLI_PROGRESS_H
#define CCS_CLI_PROGRESS_H

#include <stddef.h>
#include <stdio.h>

struct renew_outcome;

/* Start showing the progress of TOTAL certificates, if stderr is a terminal. Returns whether it
 * does. */
int progress_start(size_t total);

/* renew_options.progress (manage/renew.h): NAME's turn started (DONE NULL) or ended. */
void progress_event(void *arg, const char *name, const struct renew_outcome *done);

/* Where the renewer's lines go: stdout, through a stream that clears the line first when stdout
 * is the terminal too. Close it with progress_end(). */
FILE *progress_stdout(void);

/* Clear the line and stop; the stream of progress_stdout() is flushed and closed. */
void progress_end(void);

#endif
