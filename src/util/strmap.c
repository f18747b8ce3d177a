#include "util/strmap.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* The table is grown (doubled) before it would be more than half full. */
#define STRMAP_LOAD_MAX(cap) ((cap) / 2)
#define STRMAP_CAP_MIN 16

/* FNV-1a, 64 bits (the FNV authors' offset basis and prime), folded to 32. */
static uint32_t strmap_hash(const char *key)
{
    uint64_t h = 0xcbf29ce484222325u;
    for (const unsigned char *s = (const unsigned char *)key; *s; s++) {
        h ^= *s;
        h *= 0x100000001b3u;
    }
    return (uint32_t)(h ^ (h >> 32));
}

/* The slot holding KEY, or the empty slot where it would go. CAP > COUNT, so one is found. */
static struct strmap_slot *strmap_slot_for(struct strmap_slot *slots, size_t cap, const char *key,
                                           uint32_t hash)
{
    size_t mask = cap - 1;
    for (size_t i = hash & mask;; i = (i + 1) & mask) {
        struct strmap_slot *s = &slots[i];
        if (!s->key || (s->hash == hash && strcmp(s->key, key) == 0))
            return s;
    }
}

static int strmap_resize(struct strmap *m, size_t cap)
{
    struct strmap_slot *slots = calloc(cap, sizeof(*slots));

    if (!slots) {
        errno = ENOMEM;
        return -1;
    }
    for (size_t i = 0; i < m->cap; i++)
        if (m->slots[i].key)
            *strmap_slot_for(slots, cap, m->slots[i].key, m->slots[i].hash) = m->slots[i];
    free(m->slots);
    m->slots = slots;
    m->cap = cap;
    return 0;
}

int strmap_reserve(struct strmap *m, size_t count)
{
    size_t cap = m->cap ? m->cap : STRMAP_CAP_MIN;

    while (STRMAP_LOAD_MAX(cap) < count) {
        if (cap > SIZE_MAX / 2 / sizeof(struct strmap_slot)) {
            errno = ENOMEM;
            return -1;
        }
        cap *= 2;
    }
    return cap == m->cap ? 0 : strmap_resize(m, cap);
}

int strmap_put(struct strmap *m, const char *key, size_t value, size_t *existing)
{
    uint32_t hash = strmap_hash(key);
    struct strmap_slot *s;

    if (value > STRMAP_VALUE_MAX) {
        errno = EOVERFLOW;
        return -1;
    }
    if (m->cap) {
        s = strmap_slot_for(m->slots, m->cap, key, hash);
        if (s->key) {
            if (existing)
                *existing = s->value;
            return 1;
        }
    }
    if (strmap_reserve(m, m->count + 1) < 0)
        return -1;
    s = strmap_slot_for(m->slots, m->cap, key, hash);
    s->key = key;
    s->hash = hash;
    s->value = (uint32_t)value;
    m->count++;
    return 0;
}

int strmap_get(const struct strmap *m, const char *key, size_t *value)
{
    const struct strmap_slot *s;

    if (!m->cap)
        return 0;
    s = strmap_slot_for(m->slots, m->cap, key, strmap_hash(key));
    if (!s->key)
        return 0;
    if (value)
        *value = s->value;
    return 1;
}

void strmap_free(struct strmap *m)
{
    free(m->slots);
    m->slots = NULL;
    m->cap = m->count = 0;
}
