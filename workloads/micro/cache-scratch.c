// SPDX-License-Identifier: MIT
// cache-scratch: Hoard's passive false-sharing test (Berger et al., ASPLOS 2000;
// mimalloc-bench runs `cache-scratch 1|N 1000 1 2000000 N`). The body is in
// lib/falseshare.c; this program only selects the passive variant.
#include "lib/falseshare.h"

static const as_workload_desc_t workloads[] = {
	{ "cache-scratch", "micro",
	  "passive false sharing: threads free objects main allocated side by side, then reuse them",
	  mw_falseshare_params },
	{ NULL, NULL, NULL, NULL },
};

int main(int argc, char **argv)
{
	as_probe_init(argc, argv, workloads);
	mw_falseshare_run(true);
	as_probe_finish();
	return 0;
}
