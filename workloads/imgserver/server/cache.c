// SPDX-License-Identifier: MIT
// A bounded LRU cache of encoded results (the server's long-lived objects):
// a chained hash table for lookup and a doubly linked recency list, under
// one mutex. Bounded by the bytes of the encoded data it holds.
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "imgserver.h"

typedef struct entry_s {
	struct entry_s *hnext;       // hash chain
	struct entry_s *prev, *next; // recency list, head = most recent
	char *key;
	img_blob_t blob;
} entry_t;

#define NBUCKETS 4096u

static struct {
	pthread_mutex_t lock;
	entry_t *bucket[NBUCKETS];
	entry_t *head, *tail;
	size_t bytes, max_bytes, entries;
	uint64_t hits, misses, evictions;
} C = { .lock = PTHREAD_MUTEX_INITIALIZER };

static unsigned hash_key(const char *k)
{
	uint64_t h = 1469598103934665603ULL; // FNV-1a
	for (; *k; k++)
		h = (h ^ (uint8_t)*k) * 1099511628211ULL;
	return (unsigned)(h % NBUCKETS);
}

void cache_init(size_t max_bytes)
{
	C.max_bytes = max_bytes;
}

static void list_unlink(entry_t *e)
{
	if (e->prev)
		e->prev->next = e->next;
	else
		C.head = e->next;
	if (e->next)
		e->next->prev = e->prev;
	else
		C.tail = e->prev;
	e->prev = e->next = NULL;
}

static void list_push_front(entry_t *e)
{
	e->prev = NULL;
	e->next = C.head;
	if (C.head)
		C.head->prev = e;
	C.head = e;
	if (!C.tail)
		C.tail = e;
}

static entry_t *lookup(const char *key, entry_t ***slot)
{
	entry_t **p = &C.bucket[hash_key(key)];
	for (; *p; p = &(*p)->hnext)
		if (strcmp((*p)->key, key) == 0)
			break;
	if (slot)
		*slot = p;
	return *p;
}

static void entry_destroy(entry_t *e)
{
	img_live_add(-(int64_t)(strlen(e->key) + 1 + sizeof(*e)));
	blob_free(&e->blob);
	free(e->key);
	free(e);
}

static void evict_one(void)
{
	entry_t *e = C.tail;
	entry_t **slot;
	lookup(e->key, &slot);
	*slot = e->hnext;
	list_unlink(e);
	C.bytes -= e->blob.len;
	C.entries--;
	C.evictions++;
	entry_destroy(e);
}

bool cache_with(const char *key, void (*fn)(const uint8_t *data, size_t len, void *arg),
		void *arg)
{
	pthread_mutex_lock(&C.lock);
	entry_t *e = lookup(key, NULL);
	if (e) {
		C.hits++;
		list_unlink(e);
		list_push_front(e);
		fn(e->blob.data, e->blob.len, arg);
	} else {
		C.misses++;
	}
	pthread_mutex_unlock(&C.lock);
	return e != NULL;
}

void cache_put(const char *key, img_blob_t *blob)
{
	if (blob->len > C.max_bytes) {
		blob_free(blob);
		return;
	}
	entry_t *e = malloc(sizeof(*e));
	char *k = strdup(key);
	if (!e || !k) {
		free(e);
		free(k);
		blob_free(blob);
		return;
	}
	img_live_add((int64_t)(strlen(k) + 1 + sizeof(*e)));
	*e = (entry_t){ .key = k, .blob = *blob };
	*blob = (img_blob_t){ 0 };
	pthread_mutex_lock(&C.lock);
	entry_t **slot;
	if (lookup(key, NULL)) { // another thread computed the same result first
		pthread_mutex_unlock(&C.lock);
		entry_destroy(e);
		return;
	}
	while (C.bytes + e->blob.len > C.max_bytes && C.tail)
		evict_one();
	lookup(key, &slot); // after evictions: they may have relinked this chain
	*slot = e;
	list_push_front(e);
	C.bytes += e->blob.len;
	C.entries++;
	pthread_mutex_unlock(&C.lock);
}

void cache_stats(uint64_t *hits, uint64_t *misses, uint64_t *evictions, size_t *bytes,
		 size_t *entries)
{
	pthread_mutex_lock(&C.lock);
	*hits = C.hits;
	*misses = C.misses;
	*evictions = C.evictions;
	*bytes = C.bytes;
	*entries = C.entries;
	pthread_mutex_unlock(&C.lock);
}

void cache_free(void)
{
	pthread_mutex_lock(&C.lock);
	while (C.tail)
		evict_one();
	pthread_mutex_unlock(&C.lock);
}
