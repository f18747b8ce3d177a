/* log.h — messages for the operator, on stderr.
 *
 * Under journald (JOURNAL_STREAM set to our stderr) each line carries a "<N>" syslog priority prefix
 * so the journal records its level; on a terminal or a pipe lines read "ccs: warning: ...". */
#ifndef CCS_UTIL_LOG_H
#define CCS_UTIL_LOG_H

enum log_level { LOG_LEVEL_ERROR = 3, LOG_LEVEL_WARNING = 4, LOG_LEVEL_INFO = 6, LOG_LEVEL_DEBUG = 7 };

void log_set_verbosity(enum log_level most_verbose);

/* HOOK (or NULL) runs before each line is written, with stderr locked (flockfile): `ccs renew`'s
 * progress line (cli/progress.h) clears itself there, so a message never lands on it. */
void log_set_line_hook(void (*hook)(void));
void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_error(...) log_msg(LOG_LEVEL_ERROR, __VA_ARGS__)
#define log_warning(...) log_msg(LOG_LEVEL_WARNING, __VA_ARGS__)
#define log_info(...) log_msg(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_LEVEL_DEBUG, __VA_ARGS__)

#endif
