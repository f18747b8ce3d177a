/* strmap.h — a map from strings to indexes (into an array the caller keeps), for lookups by name
 * that must not scan: a configuration of 100,000 certificates checks each task's certificate and
 * store by name, and a scan per lookup made that quadratic (issue 11).
 *
 * Open addressing with linear probing in a power-of-two table kept at most half full, so a
 * lookup probes about 1.5 slots on average; 16 bytes a slot. Keys are hashed with FNV-1a: the
 * keys are names from the administrator's own configuration, not input an attacker chooses, so
 * a keyed hash (SipHash) against crafted collisions would buy nothing here. A map that could be
 * fed hostile keys must not use this one.
 *
 * Invariants: keys are borrowed, not copied — each key must stay valid and unchanged while it is
 * in the map (the caller's strings, e.g. the names in struct config); an empty slot has key NULL;
 * count <= cap / 2 (STRMAP_LOAD_MAX). Nothing is ever removed. */
#ifndef CCS_UTIL_STRMAP_H
#define CCS_UTIL_STRMAP_H

#include <stddef.h>
#include <stdint.h>

/* Values (indexes) above this do not fit a slot. */
#define STRMAP_VALUE_MAX UINT32_MAX

struct strmap_slot {
    const char *key; /* NULL: empty */
    uint32_t hash;
    uint32_t value;
};

struct strmap {
    struct strmap_slot *slots;
    size_t cap; /* 0 or a power of two */
    size_t count;
};

#define STRMAP_INIT {NULL, 0, 0}

/* Map KEY to VALUE unless KEY is there already. Returns 0 when added; 1 when KEY was there (its
 * value in *EXISTING if not NULL; the map is unchanged); -1 when out of memory or VALUE is above
 * STRMAP_VALUE_MAX (errno ENOMEM or EOVERFLOW; the map is unchanged). */
int strmap_put(struct strmap *m, const char *key, size_t value, size_t *existing);

/* 1 and KEY's value in *VALUE (if not NULL) when KEY is in the map; 0 when it is not. */
int strmap_get(const struct strmap *m, const char *key, size_t *value);

/* Make room for COUNT keys in all without growing again. 0, or -1 (ENOMEM; map unchanged). */
int strmap_reserve(struct strmap *m, size_t count);

void strmap_free(struct strmap *m);

#endif
