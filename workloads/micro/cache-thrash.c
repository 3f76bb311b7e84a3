// SPDX-License-Identifier: MIT
// cache-thrash: Hoard's active false-sharing test (Berger et al., ASPLOS 2000;
// mimalloc-bench runs `cache-thrash 1|N 1000 1 2000000 N`). The body is in
// lib/falseshare.c; this program only selects the active variant.
#include "lib/falseshare.h"

static const as_workload_desc_t workloads[] = {
	{ "cache-thrash", "micro",
	  "active false sharing: threads write their own small objects, which may share cache lines",
	  mw_falseshare_params },
	{ NULL, NULL, NULL, NULL },
};

int main(int argc, char **argv)
{
	as_probe_init(argc, argv, workloads);
	mw_falseshare_run(false);
	as_probe_finish();
	return 0;
}
