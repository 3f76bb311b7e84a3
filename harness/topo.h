// SPDX-License-Identifier: MIT
// Topology and placement. The topology is the real machine (hwloc) or a
// simulated one (--topology synthetic:"package:2 numa:1 core:8 pu:1" or an
// XML file), used to plan runs for machines larger than this one. Under a
// simulated topology, virtual PU v runs on real PU (v mod real PUs), and each
// thread is told the virtual NUMA node of its PU (probe --nodes), so
// NUMA-aware code paths run even here.
//
// Pin policies: none (no pinning), compact (PUs in hwloc logical order),
// scatter (round-robin over NUMA nodes, or packages when there are more
// packages than nodes; within one, cores before their SMT siblings), or an
// explicit list of virtual PU indices. Memory policies (libnuma, applied in
// the child before exec, inherited by the workload): local, interleave,
// node=N; a node that does not exist is refused unless simulated (then it
// maps to real node N mod real nodes).
#ifndef AS_TOPO_H
#define AS_TOPO_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct as_topo_s {
	bool simulated;
	char *spec;	    ///< "real", "synthetic:...", or the XML path
	unsigned packages;  ///< of the (virtual) topology
	unsigned nodes;
	unsigned cores;
	unsigned pus;
	unsigned l3_caches;
	int *pu_node;	    ///< virtual PU -> virtual NUMA node (logical index)
	unsigned *compact;  ///< PU order for compact
	unsigned *scatter;  ///< PU order for scatter
	unsigned real_pus;
	unsigned real_nodes;
	int *real_pu_os;    ///< real PU logical index -> OS index (for affinity)
	char *desc;	    ///< multi-line human description (allocscope topo)
} as_topo_t;

/// Load the topology; 0 or -1 with a message in err.
int as_topo_load(as_topo_t *t, const char *spec, char *err, size_t errlen);

typedef enum as_pin_kind_e { AS_PIN_NONE, AS_PIN_COMPACT, AS_PIN_SCATTER, AS_PIN_LIST } as_pin_kind_t;

typedef struct as_pin_s {
	as_pin_kind_t kind;
	unsigned *list; ///< virtual PUs for AS_PIN_LIST
	size_t nlist;
} as_pin_t;

/// Parse a --pin value; 0 or -1 with a message.
int as_pin_parse(as_pin_t *p, const char *s, char *err, size_t errlen);
/// Check a pin policy against a topology (list entries exist).
int as_pin_check(const as_pin_t *p, const as_topo_t *t, char *err, size_t errlen);

/// Placement for `n` threads: virtual PU, real OS CPU and virtual node of
/// each slot (arrays of n). Returns false for AS_PIN_NONE (no pinning).
bool as_topo_place(const as_topo_t *t, const as_pin_t *p, unsigned n, int *vpu, int *rcpu, int *node);

typedef enum as_mem_kind_e { AS_MEM_DEFAULT, AS_MEM_LOCAL, AS_MEM_INTERLEAVE, AS_MEM_NODE } as_mem_kind_t;

typedef struct as_mem_s {
	as_mem_kind_t kind;
	int node;      ///< requested (virtual) node for AS_MEM_NODE
	int real_node; ///< the node actually bound
} as_mem_t;

/// Parse and check --membind against the topology.
int as_mem_parse(as_mem_t *m, const char *s, const as_topo_t *t, char *err, size_t errlen);
/// Apply in the current process (call in the child between fork and exec);
/// returns 0 or an errno value.
int as_mem_apply(const as_mem_t *m);

/// {"packages","numa_nodes","cores","pus","l3_caches","spec"} of the
/// topology used for placement.
json_t *as_topo_json(const as_topo_t *t);

#endif
