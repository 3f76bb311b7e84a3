// SPDX-License-Identifier: MIT
// Topology discovery, pin plans and memory policy (see topo.h).
#include "topo.h"

#include <errno.h>
#include <hwloc.h>
#include <numa.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "util.h"

static int load_hw(hwloc_topology_t *out, const char *synthetic, const char *xml, char *err, size_t len)
{
	hwloc_topology_t t;
	if (hwloc_topology_init(&t) != 0) {
		snprintf(err, len, "hwloc_topology_init failed: %s", strerror(errno));
		return -1;
	}
	if (synthetic && hwloc_topology_set_synthetic(t, synthetic) != 0) {
		snprintf(err, len, "--topology: hwloc cannot parse synthetic description '%s'", synthetic);
		hwloc_topology_destroy(t);
		return -1;
	}
	if (xml && hwloc_topology_set_xml(t, xml) != 0) {
		snprintf(err, len, "--topology: cannot read XML topology '%s': %s", xml, strerror(errno));
		hwloc_topology_destroy(t);
		return -1;
	}
	if (hwloc_topology_load(t) != 0) {
		snprintf(err, len, "--topology: hwloc cannot load the topology%s%s", xml ? " from " : "",
			 xml ? xml : "");
		hwloc_topology_destroy(t);
		return -1;
	}
	*out = t;
	return 0;
}

static unsigned count(hwloc_topology_t t, hwloc_obj_type_t type)
{
	int n = hwloc_get_nbobjs_by_type(t, type);
	return n > 0 ? (unsigned)n : 0;
}

static int node_of_pu(hwloc_topology_t t, hwloc_obj_t pu)
{
	int os = hwloc_bitmap_first(pu->nodeset);
	if (os < 0)
		return 0;
	hwloc_obj_t n = hwloc_get_numanode_obj_by_os_index(t, (unsigned)os);
	return n ? (int)n->logical_index : 0;
}

static int ancestor_index(hwloc_obj_t o, hwloc_obj_type_t type)
{
	for (hwloc_obj_t p = o; p; p = p->parent)
		if (p->type == type)
			return (int)p->logical_index;
	return 0;
}

static void describe(as_topo_t *T, hwloc_topology_t t)
{
	as_strv_t l = { 0 };
	as_strv_pushf(&l, "topology: %s%s", T->spec, T->simulated ? " (simulated)" : "");
	as_strv_pushf(&l, "packages %u, NUMA nodes %u, cores %u, PUs %u", T->packages, T->nodes, T->cores, T->pus);
	static const struct {
		hwloc_obj_type_t type;
		const char *name;
	} caches[] = { { HWLOC_OBJ_L1CACHE, "L1d" }, { HWLOC_OBJ_L2CACHE, "L2" }, { HWLOC_OBJ_L3CACHE, "L3" } };
	for (size_t i = 0; i < sizeof(caches) / sizeof(caches[0]); i++) {
		unsigned n = count(t, caches[i].type);
		if (!n)
			continue;
		hwloc_obj_t c = hwloc_get_obj_by_type(t, caches[i].type, 0);
		as_strv_pushf(&l, "%s caches: %u x %llu KiB", caches[i].name, n,
			      (unsigned long long)(c && c->attr ? c->attr->cache.size / 1024 : 0));
	}
	for (unsigned i = 0; i < T->nodes; i++) {
		hwloc_obj_t n = hwloc_get_obj_by_type(t, HWLOC_OBJ_NUMANODE, i);
		as_strv_t pus = { 0 };
		for (unsigned p = 0; p < T->pus; p++)
			if (T->pu_node[p] == (int)i)
				as_strv_pushf(&pus, "%u", p);
		char *j = as_strv_join(&pus, ",");
		as_strv_pushf(&l, "node %u: %llu MiB, PUs %s", i,
			      (unsigned long long)(n ? n->attr->numanode.local_memory >> 20 : 0), j);
		free(j);
		as_strv_clear(&pus);
	}
	as_strv_t pus = { 0 };
	for (unsigned p = 0; p < T->pus; p++)
		as_strv_pushf(&pus, "%u", p);
	char *j = as_strv_join(&pus, " ");
	as_strv_pushf(&l, "compact order: %s", j);
	free(j);
	as_strv_clear(&pus);
	for (unsigned p = 0; p < T->pus; p++)
		as_strv_pushf(&pus, "%u", T->scatter[p]);
	j = as_strv_join(&pus, " ");
	as_strv_pushf(&l, "scatter order: %s", j);
	free(j);
	as_strv_clear(&pus);
	if (T->simulated)
		as_strv_pushf(&l, "virtual PU v runs on real PU (v mod %u); real NUMA nodes: %u", T->real_pus,
			      T->real_nodes);
	T->desc = as_strv_join(&l, "\n");
	as_strv_clear(&l);
}

int as_topo_load(as_topo_t *T, const char *spec, char *err, size_t len)
{
	memset(T, 0, sizeof(*T));
	hwloc_topology_t real;
	hwloc_topology_t virt = NULL;
	const char *syn = NULL;
	const char *xml = NULL;
	char *synbuf = NULL;
	if (spec && *spec && strcmp(spec, "real") != 0) {
		if (!strncmp(spec, "synthetic:", 10)) {
			synbuf = as_xstrdup(spec + 10);
			size_t n = strlen(synbuf);
			if (n >= 2 && synbuf[0] == '"' && synbuf[n - 1] == '"') {
				memmove(synbuf, synbuf + 1, n - 2);
				synbuf[n - 2] = '\0';
			}
			if (!*synbuf) {
				snprintf(err, len, "--topology: empty synthetic description");
				free(synbuf);
				return -1;
			}
			syn = synbuf;
		} else {
			struct stat st;
			if (stat(spec, &st) != 0) {
				snprintf(err, len,
					 "--topology: '%s' is neither synthetic:\"...\" nor a readable XML file", spec);
				return -1;
			}
			xml = spec;
		}
	}
	if (load_hw(&real, NULL, NULL, err, len) != 0) {
		free(synbuf);
		return -1;
	}
	if ((syn || xml) && load_hw(&virt, syn, xml, err, len) != 0) {
		hwloc_topology_destroy(real);
		free(synbuf);
		return -1;
	}
	free(synbuf);
	hwloc_topology_t t = virt ? virt : real;
	T->simulated = virt != NULL;
	T->spec = as_xstrdup(spec && *spec ? spec : "real");
	T->packages = count(t, HWLOC_OBJ_PACKAGE);
	T->nodes = count(t, HWLOC_OBJ_NUMANODE);
	T->cores = count(t, HWLOC_OBJ_CORE);
	T->pus = count(t, HWLOC_OBJ_PU);
	T->l3_caches = count(t, HWLOC_OBJ_L3CACHE);
	if (!T->packages)
		T->packages = 1;
	if (!T->nodes)
		T->nodes = 1;
	T->real_pus = count(real, HWLOC_OBJ_PU);
	T->real_nodes = count(real, HWLOC_OBJ_NUMANODE);
	if (!T->pus || !T->real_pus) {
		snprintf(err, len, "--topology: the topology has no PUs");
		goto out_destroy;
	}
	T->pu_node = as_xcalloc(T->pus, sizeof(int));
	T->compact = as_xcalloc(T->pus, sizeof(unsigned));
	T->scatter = as_xcalloc(T->pus, sizeof(unsigned));
	T->real_pu_os = as_xcalloc(T->real_pus, sizeof(int));
	int *domain = as_xcalloc(T->pus, sizeof(int));
	int *smt = as_xcalloc(T->pus, sizeof(int)); // rank of the PU within its core
	bool by_node = T->nodes >= T->packages;
	unsigned ndom = by_node ? T->nodes : T->packages;
	for (unsigned p = 0; p < T->pus; p++) {
		hwloc_obj_t pu = hwloc_get_obj_by_type(t, HWLOC_OBJ_PU, p);
		T->compact[p] = p;
		T->pu_node[p] = node_of_pu(t, pu);
		domain[p] = by_node ? T->pu_node[p] : ancestor_index(pu, HWLOC_OBJ_PACKAGE);
		smt[p] = pu->sibling_rank;
		if (domain[p] >= (int)ndom)
			domain[p] = (int)ndom - 1;
	}
	for (unsigned p = 0; p < T->real_pus; p++)
		T->real_pu_os[p] = (int)hwloc_get_obj_by_type(real, HWLOC_OBJ_PU, p)->os_index;
	// Scatter: SMT rank 0 of every core first, round-robin over domains.
	unsigned k = 0;
	for (int rank = 0; k < T->pus; rank++) {
		unsigned *cursor = as_xcalloc(ndom, sizeof(unsigned));
		bool progress = true;
		while (progress) {
			progress = false;
			for (unsigned d = 0; d < ndom; d++) {
				while (cursor[d] < T->pus &&
				       (domain[cursor[d]] != (int)d || smt[cursor[d]] != rank))
					cursor[d]++;
				if (cursor[d] < T->pus) {
					T->scatter[k++] = cursor[d]++;
					progress = true;
				}
			}
		}
		free(cursor);
		if (rank > 4096)
			break;
	}
	free(domain);
	free(smt);
	describe(T, t);
	if (virt)
		hwloc_topology_destroy(virt);
	hwloc_topology_destroy(real);
	return 0;

out_destroy:
	if (virt)
		hwloc_topology_destroy(virt);
	hwloc_topology_destroy(real);
	return -1;
}

int as_pin_parse(as_pin_t *p, const char *s, char *err, size_t len)
{
	memset(p, 0, sizeof(*p));
	if (!strcmp(s, "none"))
		p->kind = AS_PIN_NONE;
	else if (!strcmp(s, "compact"))
		p->kind = AS_PIN_COMPACT;
	else if (!strcmp(s, "scatter"))
		p->kind = AS_PIN_SCATTER;
	else {
		as_strv_t l = { 0 };
		as_strv_split(&l, s, ',');
		if (!l.n) {
			snprintf(err, len, "--pin: '%s' is not none, compact, scatter or a PU list", s);
			return -1;
		}
		p->kind = AS_PIN_LIST;
		p->list = as_xcalloc(l.n, sizeof(unsigned));
		for (size_t i = 0; i < l.n; i++) {
			uint64_t v;
			if (!as_parse_uint(l.v[i], 0, 1u << 20, &v)) {
				snprintf(err, len, "--pin: '%s' is not none, compact, scatter or a PU list", s);
				as_strv_clear(&l);
				free(p->list);
				p->list = NULL;
				return -1;
			}
			p->list[i] = (unsigned)v;
		}
		p->nlist = l.n;
		as_strv_clear(&l);
	}
	return 0;
}

int as_pin_check(const as_pin_t *p, const as_topo_t *t, char *err, size_t len)
{
	for (size_t i = 0; p->kind == AS_PIN_LIST && i < p->nlist; i++)
		if (p->list[i] >= t->pus) {
			snprintf(err, len, "--pin: PU %u does not exist (the topology has %u PUs)", p->list[i],
				 t->pus);
			return -1;
		}
	return 0;
}

bool as_topo_place(const as_topo_t *t, const as_pin_t *p, unsigned n, int *vpu, int *rcpu, int *node)
{
	if (p->kind == AS_PIN_NONE)
		return false;
	for (unsigned i = 0; i < n; i++) {
		unsigned v;
		if (p->kind == AS_PIN_LIST)
			v = p->list[i % p->nlist];
		else if (p->kind == AS_PIN_SCATTER)
			v = t->scatter[i % t->pus];
		else
			v = t->compact[i % t->pus];
		vpu[i] = (int)v;
		node[i] = t->pu_node[v];
		rcpu[i] = t->real_pu_os[v % t->real_pus];
	}
	return true;
}

int as_mem_parse(as_mem_t *m, const char *s, const as_topo_t *t, char *err, size_t len)
{
	memset(m, 0, sizeof(*m));
	if (!strcmp(s, "default") || !*s)
		m->kind = AS_MEM_DEFAULT;
	else if (!strcmp(s, "local"))
		m->kind = AS_MEM_LOCAL;
	else if (!strcmp(s, "interleave"))
		m->kind = AS_MEM_INTERLEAVE;
	else if (!strncmp(s, "node=", 5)) {
		uint64_t v;
		if (!as_parse_uint(s + 5, 0, 1u << 16, &v)) {
			snprintf(err, len, "--membind: '%s' is not node=N with N a node number", s);
			return -1;
		}
		m->kind = AS_MEM_NODE;
		m->node = (int)v;
		if (t->simulated) {
			if (v >= t->nodes) {
				snprintf(err, len, "--membind: node %llu does not exist (the simulated topology has %u nodes)",
					 (unsigned long long)v, t->nodes);
				return -1;
			}
			m->real_node = (int)(v % (t->real_nodes ? t->real_nodes : 1));
		} else {
			if (numa_available() < 0 || (int)v > numa_max_node() ||
			    !numa_bitmask_isbitset(numa_all_nodes_ptr, (unsigned)v)) {
				snprintf(err, len, "--membind: node %llu does not exist on this machine (%u NUMA nodes)",
					 (unsigned long long)v, t->real_nodes);
				return -1;
			}
			m->real_node = (int)v;
		}
	} else {
		snprintf(err, len, "--membind: '%s' is not local, interleave or node=N", s);
		return -1;
	}
	return 0;
}

int as_mem_apply(const as_mem_t *m)
{
	if (m->kind == AS_MEM_DEFAULT)
		return 0;
	if (numa_available() < 0)
		return ENOSYS;
	errno = 0;
	if (m->kind == AS_MEM_LOCAL) {
		numa_set_localalloc();
	} else if (m->kind == AS_MEM_INTERLEAVE) {
		numa_set_interleave_mask(numa_all_nodes_ptr);
	} else {
		struct bitmask *b = numa_allocate_nodemask();
		numa_bitmask_setbit(b, (unsigned)m->real_node);
		numa_set_membind(b);
		numa_bitmask_free(b);
	}
	return errno == ENOSYS ? ENOSYS : 0;
}

json_t *as_topo_json(const as_topo_t *t)
{
	return json_pack("{s:i, s:i, s:i, s:i, s:i, s:s}", "packages", (json_int_t)t->packages, "numa_nodes",
			 (json_int_t)t->nodes, "cores", (json_int_t)t->cores, "pus", (json_int_t)t->pus,
			 "l3_caches", (json_int_t)t->l3_caches, "spec", t->spec);
}
