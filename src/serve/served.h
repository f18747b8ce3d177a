/* served.h — the store files `ccs serve` holds a certificate of, ready for the next handshake, with
 * that certificate's not-after: what /metrics lists, and what the change feed reloads at once when
 * a file changes (so a renewed file reaches the next handshake, not the one after).
 *
 * Updated by the loader after each load (never in a handshake: a cached name costs no lock here)
 * and by the change feed on removals. Thread-safe; one mutex, held for a hash lookup. */
#ifndef CCS_SERVE_SERVED_H
#define CCS_SERVE_SERVED_H

#include <stddef.h>
#include <time.h>

struct served;

struct served_item {
    const char *file;
    time_t not_after;
};

struct served *served_new(void);
void served_free(struct served *s);

/* FILE now serves a certificate valid until NOT_AFTER. Fails only for lack of memory. */
int served_set(struct served *s, const char *file, time_t not_after);
/* FILE serves nothing (removed, or nothing usable in it). */
void served_forget(struct served *s, const char *file);
int served_has(struct served *s, const char *file);
size_t served_count(struct served *s);

/* Call FN for every file, soonest not-after first, at most MAX of them; under the mutex, so FN
 * must not call back into S. Returns how many were left out. */
size_t served_each(struct served *s, size_t max, void (*fn)(void *arg, const struct served_item *),
                   void *arg);

#endif
