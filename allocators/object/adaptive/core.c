// SPDX-License-Identifier: MIT
// Entry points of the adaptive core: set-up from the environment, the malloc
// family on top of the fast paths (internal.h), and the fork handlers.
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "as/err.h"
#include "as/meta.h"
#include "internal.h"

adp_global_t adp_g;
static _Atomic int adp_init_state; // 0 = not yet, 1 = running, 2 = ok, 3 = failed
static char adp_init_err[200];

static void adp_make_name(void)
{
	const char *ps = getenv("ALLOCSCOPE_PAGESOURCE");
	const char *at = ps && strncmp(ps, "frame@", 6) == 0 ? ps + 6 : NULL;
	as_format(adp_g.name, sizeof(adp_g.name), "%s%s%s",
		  adp_g.controller ? "adaptive" : "adaptive-static", at ? "@" : "", at ? at : "");
}

bool adp_init(void)
{
	int st = as_atomic_load_acquire(&adp_init_state);
	if (AS_LIKELY(st >= 2))
		return st == 2;
	int expect = 0;
	if (!as_atomic_cas_strong_acq_rel(&adp_init_state, &expect, 1)) {
		while ((st = as_atomic_load_acquire(&adp_init_state)) == 1)
			sched_yield();
		return st == 2;
	}
	adp_sizeclass_init();
	adp_g.controller = adp_param(ADP_P_CONTROLLER) != 0;
	as_atomic_store_release(&adp_g.watermark, adp_param(ADP_P_WATERMARK));
	adp_make_name();
	adp_g.central = as_meta_alloc(sizeof(adp_central_t) * ADP_MAX_NODES * ADP_NCLS, AS_CACHELINE);
	if (!adp_g.central) {
		as_format(adp_init_err, sizeof(adp_init_err), "adaptive: no memory for the pools");
		goto out_fail;
	}
	adp_g.ps = ps_from_env(adp_init_err, sizeof(adp_init_err));
	if (!adp_g.ps)
		goto out_fail;
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	adp_g.ns0 = (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
	adp_g.tsc0 = adp_ticks();
	if (adp_g.controller)
		adp_trace_open();
	as_atomic_store_release(&adp_init_state, 2);
	return true;
out_fail:
	as_atomic_store_release(&adp_init_state, 3);
	return false;
}

const char *adp_init_error(void)
{
	return adp_init_err;
}

const char *adp_name(void)
{
	return adp_g.name[0] ? adp_g.name : "adaptive";
}

void *adp_malloc(size_t size)
{
	return adp_malloc_fast(size ? size : 1);
}

void adp_free(void *p)
{
	adp_free_fast(p);
}

void *adp_aligned(size_t align, size_t size)
{
	if (size == 0)
		size = 1;
	if (align <= 16)
		return adp_malloc_fast(size);
	unsigned cls = adp_class_aligned(size, align);
	if (cls < ADP_NCLS)
		return adp_malloc_fast(adp_cls_size[cls]);
	return adp_large_alloc(size, align);
}

size_t adp_usable_size(const void *p)
{
	const adp_slab_t *s = adp_slab_of(p);
	if (s->tag == ADP_TAG_LARGE)
		return adp_large_usable(s, p);
	return adp_cls_size[s->cls];
}

// Fork: take every lock in the one global order (registry, centrals,
// pools) so the child starts with consistent pools and free locks.
void adp_fork_prepare(void)
{
	if (as_atomic_load_acquire(&adp_init_state) != 2)
		return;
	adp_lock(&adp_g.reg_lock);
	for (unsigned i = 0; i < ADP_MAX_NODES * ADP_NCLS; i++)
		adp_lock(&adp_g.central[i].lock);
	for (unsigned n = 0; n < ADP_MAX_NODES; n++)
		adp_lock(&adp_g.pool[n].lock);
}

void adp_fork_parent(void)
{
	if (as_atomic_load_acquire(&adp_init_state) != 2)
		return;
	for (unsigned n = ADP_MAX_NODES; n-- > 0;)
		adp_unlock(&adp_g.pool[n].lock);
	for (unsigned i = ADP_MAX_NODES * ADP_NCLS; i-- > 0;)
		adp_unlock(&adp_g.central[i].lock);
	adp_unlock(&adp_g.reg_lock);
}

void adp_fork_child(void)
{
	// Only this thread survives; the locks it took are simply released.
	adp_fork_parent();
}
