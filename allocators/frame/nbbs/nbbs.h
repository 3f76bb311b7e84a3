// SPDX-License-Identifier: MIT
// nbbs: the non-blocking buddy system (Marotta, Ianni, Scarselli, Pellegrini,
// Quaglia; CLUSTER'18, CCGrid'19, IEEE TC 2022), 1-level protocol, as a frame
// allocator. Reached only through its ops table (frame.h); README.md in this
// folder explains the protocol, the node word and the parameters.
#ifndef NBBS_H
#define NBBS_H

#include "frame.h"

/// "nbbs". Options: pad=8|64 (bytes per node word slot, default 8);
/// early=1|0 (release fast path, default 1; 0 = the paper's three phases).
extern const struct frame_ops nbbs_ops;

#endif
