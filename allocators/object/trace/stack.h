// SPDX-License-Identifier: MIT
// Allocation-site identification shared by the trace preload and the
// lifetime allocator (header-only: each library includes it once, so the
// two never share a symbol). Three tiers, cheapest first:
//   st_cheap_key   return address of the malloc call plus the stack depth
//                  (distance from the thread's first-seen stack pointer);
//                  valid only within one run, a few ns
//   st_capture     the full stack: glibc backtrace() (DWARF unwinding, works
//                  without frame pointers) or a bounds-checked frame-pointer
//                  walk; microseconds, so only on a cache miss or a sample
//   st_describe    per frame: module basename, offset in the module and the
//                  function name (dynamic symbol table, else the file's own
//                  .symtab); gives the run-independent site id and the text
//                  the model predictor tokenizes; once per new site
// None of these calls malloc, except that the very first backtrace() may
// load libgcc_s (glibc does a dlopen): callers hold a per-thread recursion
// guard (st_guard) so the nested malloc takes the no-stack path, and hold no
// allocator lock while capturing.
#ifndef AS_ST_STACK_H
#define AS_ST_STACK_H

#include <dlfcn.h>
#include <elf.h>
#include <execinfo.h>
#include <fcntl.h>
#include <link.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "as/atomic.h"
#include "as/compiler.h"

/// Frames kept per stack, and frames hashed into the run-independent id.
#define ST_MAX_FRAMES 32
#define ST_ID_FRAMES 8
/// Bytes of symbol text kept per site ("fn;fn;fn" innermost first).
#define ST_TEXT_MAX 384

enum { ST_UNWIND_BACKTRACE = 0, ST_UNWIND_FP = 1 };

/// Stack scans read other frames (and their ASan redzones) by design.
#define ST_NO_ASAN __attribute__((no_sanitize_address))

/// Per-thread recursion guard: true while this thread is inside a capture.
static __thread __attribute__((tls_model("initial-exec"))) bool st_guard;
/// Per-thread reference stack pointer for the depth part of the cheap key.
static __thread __attribute__((tls_model("initial-exec"))) uintptr_t st_sp_base;

static inline uint64_t st_mix64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	x ^= x >> 33;
	return x;
}

static inline uint64_t st_hash_str(const char *s, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ULL; // FNV-1a
	for (size_t i = 0; i < n && s[i]; i++) {
		h ^= (unsigned char)s[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

/// The cheap site key: caller's return address and stack depth (16-byte
/// units below the first stack pointer this thread showed). Never 0.
static inline uint64_t st_cheap_key(const void *ret, const void *sp)
{
	uintptr_t s = (uintptr_t)sp;
	if (AS_UNLIKELY(st_sp_base == 0))
		st_sp_base = s;
	uint64_t depth = (uint64_t)(st_sp_base - s) >> 4;
	// Not mixed: callers hash it for their tables; this stays a few ops.
	uint64_t k = (uint64_t)(uintptr_t)ret ^ (depth << 48) ^ (depth >> 16);
	return k ? k : 1;
}

/// Offset in words from `sp` to the stack slot holding `ret2` (the return
/// address one frame further out than the malloc caller), searching 1024
/// words above sp; -1 if not found. For one cheap key the frame layout is
/// fixed, so the slot found once holds the next return address on every
/// later call: reading it extends the key by one frame for one load.
/// Reads other frames' memory on purpose: not instrumented by ASan.
ST_NO_ASAN static inline int st_slot_find(const void *sp, const void *ret2)
{
	const uintptr_t *w = (const uintptr_t *)((uintptr_t)sp & ~(uintptr_t)7);
	uintptr_t mapped_end = 0;
	if (!ret2)
		return -1;
	for (int i = 0; i < 1024; i++) {
		uintptr_t a = (uintptr_t)&w[i];
		if (a + sizeof(uintptr_t) > mapped_end) {
			// Only read pages that exist (the stack may end just above).
			unsigned char vec;
			uintptr_t page = a & ~(uintptr_t)4095;
			if (mincore((void *)page, 4096, &vec) != 0)
				return -1;
			mapped_end = page + 4096;
		}
		if (w[i] == (uintptr_t)ret2)
			return i;
	}
	return -1;
}

/// The cheap key extended by the word at slot `slot` above sp.
ST_NO_ASAN static inline uint64_t st_key_extend(uint64_t key, const void *sp, int slot)
{
	const uintptr_t *w = (const uintptr_t *)((uintptr_t)sp & ~(uintptr_t)7);
	uint64_t k = st_mix64(key ^ ((uint64_t)w[slot] * 0x9e3779b97f4a7c15ULL));
	return k ? k : 1;
}

/// Bounds-checked frame-pointer walk from `fp`: each next frame pointer must
/// be above the current one, 8-byte aligned and within 8 MiB of the start.
/// Returns the number of return addresses written.
ST_NO_ASAN static AS_UNUSED int st_fp_walk(void **out, int max, void *fp)
{
	uintptr_t lo = (uintptr_t)fp;
	uintptr_t hi = lo + (8u << 20);
	uintptr_t cur = lo;
	int n = 0;
	while (n < max && cur >= lo && cur + 16 <= hi && (cur & 7) == 0) {
		const uintptr_t *f = (const uintptr_t *)cur;
		uintptr_t next = f[0];
		uintptr_t ret = f[1];
		if (ret < 4096)
			break;
		out[n++] = (void *)ret;
		if (next <= cur)
			break;
		cur = next;
	}
	return n;
}

/// Capture the stack of the current thread, starting at the frame whose
/// return address is `ret` (the malloc caller) when it is found, else after
/// `skip` frames. Returns the number of frames (0 when reentered).
static AS_UNUSED int st_capture(void **out, int max, int method, const void *ret, void *fp,
				int skip)
{
	void *raw[ST_MAX_FRAMES + 8];
	int n;
	if (st_guard)
		return 0;
	st_guard = true;
	if (method == ST_UNWIND_FP)
		n = st_fp_walk(raw, (int)AS_ARRAY_LEN(raw), fp);
	else
		n = backtrace(raw, (int)AS_ARRAY_LEN(raw));
	st_guard = false;
	int start = -1;
	for (int i = 0; i < n; i++) {
		if (raw[i] == ret) {
			start = i;
			break;
		}
	}
	if (start < 0) {
		// Not found (a tail call or an unwinder that skipped it): keep the
		// caller as the first frame and the rest after `skip`.
		out[0] = (void *)ret;
		int k = 1;
		for (int i = skip; i < n && k < max; i++)
			out[k++] = raw[i];
		return k;
	}
	int k = 0;
	for (int i = start; i < n && k < max; i++)
		out[k++] = raw[i];
	return k;
}

// ---------------------------------------------------------------------------
// Symbolization. Module files are mapped once (never unmapped) and their
// .symtab searched linearly; a small table remembers them.

typedef struct st_module_s {
	uintptr_t base;
	const char *path;
	const unsigned char *map;
	size_t len;
	const ElfW(Sym) *syms;
	size_t nsyms;
	const char *strs;
	size_t strs_len;
	bool is_dyn;
	bool tried;
} st_module_t;

#define ST_MODULES 64
static st_module_t st_modules[ST_MODULES];
static _Atomic unsigned st_modules_lock;

static AS_UNUSED void st_module_load(st_module_t *m)
{
	m->tried = true;
	const char *path = m->path;
	if (!path || !path[0])
		path = "/proc/self/exe";
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	struct stat sb;
	if (fstat(fd, &sb) != 0 || sb.st_size < (off_t)sizeof(ElfW(Ehdr))) {
		close(fd);
		return;
	}
	size_t len = (size_t)sb.st_size;
	void *map = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (map == MAP_FAILED)
		return;
	const ElfW(Ehdr) *eh = map;
	if (memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0 || eh->e_shoff == 0 ||
	    eh->e_shoff + (uint64_t)eh->e_shnum * sizeof(ElfW(Shdr)) > len) {
		munmap(map, len);
		return;
	}
	m->is_dyn = eh->e_type == ET_DYN;
	const ElfW(Shdr) *sh = (const ElfW(Shdr) *)((const char *)map + eh->e_shoff);
	for (unsigned i = 0; i < eh->e_shnum; i++) {
		if (sh[i].sh_type != SHT_SYMTAB || sh[i].sh_link >= eh->e_shnum)
			continue;
		const ElfW(Shdr) *st = &sh[sh[i].sh_link];
		if (sh[i].sh_offset + sh[i].sh_size > len || st->sh_offset + st->sh_size > len)
			continue;
		m->syms = (const ElfW(Sym) *)((const char *)map + sh[i].sh_offset);
		m->nsyms = sh[i].sh_size / sizeof(ElfW(Sym));
		m->strs = (const char *)map + st->sh_offset;
		m->strs_len = st->sh_size;
		break;
	}
	m->map = map;
	m->len = len;
}

/// Name of the function containing `addr` in module `m`, or NULL.
static AS_UNUSED const char *st_module_symbol(const st_module_t *m, uintptr_t addr)
{
	if (!m->syms)
		return NULL;
	uintptr_t key = m->is_dyn ? addr - m->base : addr;
	for (size_t i = 0; i < m->nsyms; i++) {
		const ElfW(Sym) *s = &m->syms[i];
		if (ELF64_ST_TYPE(s->st_info) != STT_FUNC || s->st_name >= m->strs_len)
			continue;
		if (key >= s->st_value && key < s->st_value + (s->st_size ? s->st_size : 1))
			return m->strs + s->st_name;
	}
	return NULL;
}

static inline const char *st_basename(const char *p)
{
	if (!p || !p[0])
		return "exe";
	const char *s = strrchr(p, '/');
	return s ? s + 1 : p;
}

/// Describe `n` frames: the run-independent site id (hash of module
/// basename and offset of the first ST_ID_FRAMES frames) and, when `text`
/// is not NULL, "module:function;..." innermost first (NUL-terminated,
/// truncated to `cap`). Takes the module-table lock; no allocator lock may
/// be held by the caller.
static AS_UNUSED uint64_t st_describe(void *const *frames, int n, char *text, size_t cap)
{
	uint64_t id = 0x9e3779b97f4a7c15ULL;
	size_t tl = 0;
	if (text && cap)
		text[0] = '\0';
	while (as_atomic_exchange_acquire(&st_modules_lock, 1u))
		as_cpu_relax();
	for (int i = 0; i < n; i++) {
		Dl_info info;
		uintptr_t a = (uintptr_t)frames[i];
		const char *mod = "?";
		const char *fn = NULL;
		uintptr_t off = a;
		// The return address points after the call; a - 1 stays inside it.
		if (dladdr((void *)(a - 1), &info) && info.dli_fbase) {
			mod = st_basename(info.dli_fname);
			off = a - (uintptr_t)info.dli_fbase;
			fn = info.dli_sname;
			if (!fn && text) {
				st_module_t *m = NULL;
				for (unsigned j = 0; j < ST_MODULES; j++) {
					if (st_modules[j].base == (uintptr_t)info.dli_fbase) {
						m = &st_modules[j];
						break;
					}
					if (st_modules[j].base == 0) {
						m = &st_modules[j];
						m->base = (uintptr_t)info.dli_fbase;
						m->path = info.dli_fname;
						break;
					}
				}
				if (m && !m->tried)
					st_module_load(m);
				if (m)
					fn = st_module_symbol(m, a - 1);
			}
		}
		if (i < ST_ID_FRAMES)
			id = st_mix64(id ^ st_hash_str(mod, 256) ^ ((uint64_t)off << 1));
		if (text && tl + 2 < cap) {
			int w = snprintf(text + tl, cap - tl, "%s%s:%s", i ? ";" : "", mod, fn ? fn : "?");
			if (w > 0)
				tl = AS_MIN(cap - 1, tl + (size_t)w);
		}
	}
	as_atomic_store_release(&st_modules_lock, 0u);
	return id ? id : 1;
}

#endif
