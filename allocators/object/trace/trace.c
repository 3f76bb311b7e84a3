// SPDX-License-Identifier: MIT
// The trace recorder behind liballocscope-trace.so: every allocation is
// served by glibc (__libc_malloc/__libc_free) with a 16-byte
// header in front (trace id, requested size, offset to the glibc block) and
// recorded, with its site, thread and time, into a per-thread buffer that
// is flushed with write(2) to $ALLOCSCOPE_TRACE ("%p" in the path becomes
// the pid). No malloc inside: buffers come from as_meta_alloc (mmap). A
// forked child stops recording (its pid would interleave with the parent's
// file) unless the path contains "%p", then it opens its own file.
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "as/atomic.h"
#include "as/clock.h"
#include "as/meta.h"
#include "stack.h"
#include "trace.h"
#include "trace_format.h"

extern void *__libc_malloc(size_t size);
extern void __libc_free(void *p);

#define TR_BUF (256u << 10)
#define TR_SITES (1u << 14)
#define TR_MAGIC 0x5452u

typedef struct tr_buf_s {
	_Atomic uint32_t lock;
	uint32_t len;
	uint16_t thread;
	struct tr_buf_s *next;
	_Atomic bool dead;
	unsigned char data[TR_BUF];
} tr_buf_t;

/// 16 bytes in front of each object.
typedef struct tr_hdr_s {
	uint64_t id;
	uint64_t size : 44;
	uint64_t off16 : 18; ///< (user - glibc block) / 16
	uint64_t magic : 2;
} tr_hdr_t;

_Static_assert(sizeof(tr_hdr_t) == 16, "trace object header");

static _Atomic int tr_fd = -1;
static _Atomic unsigned tr_state; // 0 new, 1 running, 2 ready
static char tr_path[512];
static bool tr_pid_path;
static uint64_t tr_t0;
static _Atomic uint64_t tr_next_id = 1;
static _Atomic uint32_t tr_next_site = 1;
static _Atomic uint32_t tr_next_thread;
static _Atomic(tr_buf_t *) tr_bufs;
static __thread __attribute__((tls_model("initial-exec"))) tr_buf_t *tr_self;
static _Atomic uint64_t tr_site_keys[TR_SITES];
static _Atomic uint32_t tr_site_ids[TR_SITES];
static _Atomic uint64_t tr_slot_keys[TR_SITES];
static _Atomic int32_t tr_slot_vals[TR_SITES]; ///< learned slot + 2; 0 = not yet

static void buf_lock(tr_buf_t *b)
{
	while (as_atomic_exchange_acquire(&b->lock, 1u))
		as_cpu_relax();
}

static void buf_unlock(tr_buf_t *b)
{
	as_atomic_store_release(&b->lock, 0u);
}

static void flush_locked(tr_buf_t *b)
{
	int fd = as_atomic_load_acquire(&tr_fd);
	size_t off = 0;
	while (fd >= 0 && off < b->len) {
		ssize_t w = write(fd, b->data + off, b->len - off);
		if (w <= 0 && errno != EINTR)
			break;
		if (w > 0)
			off += (size_t)w;
	}
	b->len = 0;
}

static void write_header(int fd)
{
	tr_header_t h;
	memset(&h, 0, sizeof(h));
	memcpy(h.magic, "ASTRACE", 8);
	h.version = TR_VERSION;
	h.clock_unit_ns = 1;
	h.t0_ns = tr_t0;
	ssize_t w = write(fd, &h, sizeof(h));
	(void)w;
}

static int open_trace(void)
{
	char path[600];
	const char *p = tr_path;
	size_t o = 0;
	while (*p && o + 24 < sizeof(path)) {
		if (p[0] == '%' && p[1] == 'p') {
			o += (size_t)snprintf(path + o, sizeof(path) - o, "%d", (int)getpid());
			p += 2;
		} else {
			path[o++] = *p++;
		}
	}
	path[o] = '\0';
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
	if (fd >= 0)
		write_header(fd);
	return fd;
}

bool tr_init(void)
{
	unsigned s = as_atomic_load_acquire(&tr_state);
	if (AS_LIKELY(s == 2))
		return true;
	unsigned expect = 0;
	if (!as_atomic_cas_strong_acq_rel(&tr_state, &expect, 1u)) {
		while (as_atomic_load_acquire(&tr_state) != 2)
			as_cpu_relax();
		return true;
	}
	const char *path = getenv("ALLOCSCOPE_TRACE");
	tr_t0 = as_now_ns();
	if (path && *path && strlen(path) < sizeof(tr_path)) {
		strcpy(tr_path, path);
		tr_pid_path = strstr(path, "%p") != NULL;
		int fd = open_trace();
		if (fd < 0) {
			static const char m[] = "liballocscope-trace: cannot open $ALLOCSCOPE_TRACE; "
						"not recording\n";
			ssize_t w = write(2, m, sizeof(m) - 1);
			(void)w;
		}
		as_atomic_store_release(&tr_fd, fd);
	}
	as_atomic_store_release(&tr_state, 2u);
	return true;
}

static tr_buf_t *self_buf(void)
{
	if (tr_self)
		return tr_self;
	tr_buf_t *b;
	for (b = as_atomic_load_acquire(&tr_bufs); b; b = b->next) {
		bool dead = true;
		if (atomic_compare_exchange_strong_explicit(&b->dead, &dead, false,
							    memory_order_acq_rel,
							    memory_order_acquire))
			break;
	}
	if (!b) {
		b = as_meta_alloc(sizeof(*b), 4096);
		if (!b)
			return NULL;
		b->thread = (uint16_t)as_atomic_fetch_add_relaxed(&tr_next_thread, 1u); // unique id only
		tr_buf_t *head = as_atomic_load_acquire(&tr_bufs);
		do {
			b->next = head;
		} while (!as_atomic_cas_weak_acq_rel(&tr_bufs, &head, b));
	}
	tr_self = b;
	return b;
}

/// Reserve `n` bytes in the calling thread's buffer (flushing when full);
/// returns with the buffer locked, or NULL when not recording.
static unsigned char *reserve(tr_buf_t *b, size_t n)
{
	buf_lock(b);
	if (b->len + n > TR_BUF)
		flush_locked(b);
	unsigned char *p = b->data + b->len;
	b->len += (uint32_t)n;
	return p;
}

/// Stack slot of the next return address for cheap key k1 (learned on
/// first sight with one stack capture), or -1.
static int slot_of(uint64_t k1, const void *ret, const void *sp)
{
	uint64_t h = st_mix64(k1 ^ 0x51u);
	for (unsigned i = 0; i < 128; i++) {
		unsigned slot = (unsigned)((h + i) & (TR_SITES - 1));
		uint64_t k = as_atomic_load_acquire(&tr_slot_keys[slot]);
		uint64_t expect = 0;
		if (k != k1 && (k != 0 || !as_atomic_cas_strong_acq_rel(&tr_slot_keys[slot], &expect,
									 k1))) {
			if (expect != k1)
				continue;
		}
		if (k == k1 || expect == k1) {
			int32_t v;
			while ((v = as_atomic_load_acquire(&tr_slot_vals[slot])) == 0)
				as_cpu_relax();
			return v - 2;
		}
		void *frames[4];
		int n = st_capture(frames, 4, ST_UNWIND_BACKTRACE, ret, (void *)sp, 3);
		int d = n >= 2 ? st_slot_find(sp, frames[1]) : -1;
		as_atomic_store_release(&tr_slot_vals[slot], d + 2);
		return d;
	}
	return -1;
}

/// Site index of the caller; writes the SITE record on first sight. Sites
/// are keyed by the cheap key extended with the next return address.
static uint32_t site_of(tr_buf_t *b, const void *ret, const void *sp)
{
	uint64_t k1 = st_cheap_key(ret, sp);
	int d = slot_of(k1, ret, sp);
	uint64_t key = d >= 0 ? st_key_extend(k1, sp, d) : k1;
	uint64_t h = st_mix64(key);
	for (unsigned i = 0; i < 128; i++) {
		unsigned slot = (unsigned)((h + i) & (TR_SITES - 1));
		uint64_t k = as_atomic_load_acquire(&tr_site_keys[slot]);
		if (k == key) {
			uint32_t id;
			while ((id = as_atomic_load_acquire(&tr_site_ids[slot])) == 0)
				as_cpu_relax();
			return id;
		}
		if (k != 0)
			continue;
		uint64_t expect = 0;
		if (!as_atomic_cas_strong_acq_rel(&tr_site_keys[slot], &expect, key)) {
			if (expect != key)
				continue;
			uint32_t id;
			while ((id = as_atomic_load_acquire(&tr_site_ids[slot])) == 0)
				as_cpu_relax();
			return id;
		}
		uint32_t id = as_atomic_fetch_add_relaxed(&tr_next_site, 1u); // unique id only
		void *frames[ST_MAX_FRAMES];
		char text[ST_TEXT_MAX];
		int n = st_capture(frames, ST_MAX_FRAMES, ST_UNWIND_BACKTRACE, ret, (void *)sp, 3);
		tr_site_t s;
		memset(&s, 0, sizeof(s));
		s.type = TR_SITE;
		s.nframes = (uint8_t)n;
		s.site = id;
		s.site_id = st_describe(frames, n, text, sizeof(text));
		s.textlen = (uint16_t)strlen(text);
		unsigned char *p = reserve(b, tr_site_bytes(s.textlen));
		memset(p, 0, tr_site_bytes(s.textlen));
		memcpy(p, &s, sizeof(s));
		memcpy(p + TR_SITE_FIXED, text, s.textlen);
		buf_unlock(b);
		as_atomic_store_release(&tr_site_ids[slot], id);
		return id;
	}
	return 0;
}

void *tr_malloc(size_t size, size_t align, const void *ret, const void *sp)
{
	tr_init();
	if (size >= (1ULL << 44))
		return NULL;
	// Aligned requests over-allocate and align by hand (no __libc_memalign:
	// sanitizers intercept it but not __libc_free).
	size_t a = align < 16 ? 16 : align;
	char *raw = __libc_malloc(size + (align > 16 ? a + 16 : 16));
	if (!raw)
		return NULL;
	char *user = align > 16 ? (char *)as_align_up((uintptr_t)raw + 16, a) : raw + 16;
	tr_hdr_t *h = (tr_hdr_t *)(void *)(user - 16);
	h->id = as_atomic_fetch_add_relaxed(&tr_next_id, 1u); // unique id only
	h->size = size;
	h->off16 = (uint64_t)(user - raw) / 16;
	h->magic = 2;
	tr_buf_t *b;
	if (as_atomic_load_relaxed(&tr_fd) >= 0 && !st_guard && (b = self_buf())) { // fd set once
		tr_alloc_t r;
		r.type = TR_ALLOC;
		r.align_log2 = (uint8_t)(align > 16 ? __builtin_ctzll(align) : 0);
		r.thread = b->thread;
		r.site = site_of(b, ret, sp);
		r.id = h->id;
		r.size = size;
		r.time_ns = as_now_ns() - tr_t0;
		memcpy(reserve(b, sizeof(r)), &r, sizeof(r));
		buf_unlock(b);
	}
	return user;
}

void tr_free(void *p)
{
	tr_hdr_t *h = (tr_hdr_t *)(void *)((char *)p - 16);
	if (h->magic != 2)
		return; // not ours: ignore rather than corrupt
	tr_buf_t *b;
	if (as_atomic_load_relaxed(&tr_fd) >= 0 && !st_guard && (b = self_buf())) { // fd set once
		tr_free_t r;
		memset(&r, 0, sizeof(r));
		r.type = TR_FREE;
		r.thread = b->thread;
		r.id = h->id;
		r.time_ns = as_now_ns() - tr_t0;
		memcpy(reserve(b, sizeof(r)), &r, sizeof(r));
		buf_unlock(b);
	}
	h->magic = 0;
	__libc_free((char *)p - (size_t)h->off16 * 16);
}

size_t tr_usable_size(const void *p)
{
	const tr_hdr_t *h = (const tr_hdr_t *)(const void *)((const char *)p - 16);
	return h->magic == 2 ? (size_t)h->size : 0;
}

void tr_flush_all(void)
{
	for (tr_buf_t *b = as_atomic_load_acquire(&tr_bufs); b; b = b->next) {
		buf_lock(b);
		flush_locked(b);
		buf_unlock(b);
	}
}

void tr_thread_exit(void)
{
	tr_buf_t *b = tr_self;
	if (!b)
		return;
	buf_lock(b);
	flush_locked(b);
	buf_unlock(b);
	tr_self = NULL;
	as_atomic_store_release(&b->dead, true);
}

void tr_fork_prepare(void)
{
	for (tr_buf_t *b = as_atomic_load_acquire(&tr_bufs); b; b = b->next)
		buf_lock(b);
}

void tr_fork_parent(void)
{
	for (tr_buf_t *b = as_atomic_load_acquire(&tr_bufs); b; b = b->next)
		buf_unlock(b);
}

void tr_fork_child(void)
{
	for (tr_buf_t *b = as_atomic_load_acquire(&tr_bufs); b; b = b->next) {
		b->len = 0;
		buf_unlock(b);
	}
	int fd = as_atomic_exchange_acq_rel(&tr_fd, -1);
	if (fd >= 0)
		close(fd);
	if (tr_pid_path) {
		tr_t0 = as_now_ns();
		as_atomic_store_release(&tr_fd, open_trace());
	}
}

__attribute__((destructor)) static void tr_at_exit(void)
{
	tr_flush_all();
}
