// SPDX-License-Identifier: MIT
// Common body of cache-scratch and cache-thrash (Hoard's false-sharing
// tests, Berger et al., ASPLOS 2000): see falseshare.c.
#ifndef MW_FALSESHARE_H
#define MW_FALSESHARE_H

#include <stdbool.h>

#include "probe.h"

/// Parameters shared by both programs (iterations, obj_size, repetitions).
extern const as_param_desc_t mw_falseshare_params[];

/// Run the test on --threads threads. `passive`: the main thread first
/// allocates one object per thread and each thread frees its object before
/// starting (cache-scratch); otherwise each thread only uses its own objects
/// and adds a little floating-point work per write (cache-thrash).
void mw_falseshare_run(bool passive);

#endif
