// SPDX-License-Identifier: MIT
// imgserver: a multithreaded HTTP/1.1 image-processing server on loopback
// (libmicrohttpd thread pool), the allocation-heavy half of the imgserver
// workload. GET /img/<id>?w=&h=&op=resize|blur|sharpen|thumb&fmt=png|jpeg
// decodes a source image, transforms it, encodes the result and keeps it in
// a bounded LRU cache; GET /stats reports counters; GET /health says ok.
// Bad requests get 400 with the reason, unknown ids 404.
//
// It is a probe program: run under LD_PRELOAD by the harness, its RSS and
// live bytes (store + cache + in-flight buffers) are sampled by the probe;
// on SIGTERM or SIGINT it stops, frees everything and writes its metrics.
#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "as/atomic.h"
#include "as/err.h"
#include "imgserver.h"
#include "probe.h"

static const as_param_desc_t params[] = {
	{ "port", "0", "TCP port on 127.0.0.1 (0 = any free port)" },
	{ "port_file", "", "write the bound port to this file when ready (else stderr)" },
	{ "images", "24", "number of generated source images" },
	{ "cache_mb", "16", "LRU result cache bound, MiB of encoded data" },
	{ "max_dim", "4096", "largest accepted w or h, pixels" },
	{ "quality", "85", "JPEG quality of results, 1..100" },
	{ "conn_limit", "512", "concurrent connections accepted" },
	{ NULL, NULL, NULL },
};
static const as_workload_desc_t workloads[] = {
	{ "imgserver", "server", "image-processing HTTP server (decode, transform, encode, LRU cache)",
	  params },
	{ NULL, NULL, NULL, NULL },
};

static unsigned max_dim;
static int quality;
static _Atomic unsigned next_tid = 1;
static _Atomic uint64_t n_requests, n_ok, n_bad, n_notfound, n_fail;

// ---------------------------------------------------------------------------
// Allocation accounting: server threads are MHD's, registered on first use.

void img_live_add(int64_t delta)
{
	static __thread bool registered;
	if (!registered) {
		as_probe_thread_setup(as_atomic_fetch_add_relaxed(&next_tid, 1)); // an id only
		registered = true;
	}
	as_probe_live_add(delta);
}

bool img_alloc(img_t *im, unsigned w, unsigned h)
{
	im->w = w;
	im->h = h;
	im->px = malloc((size_t)w * h * 3);
	if (!im->px)
		return false;
	img_live_add((int64_t)w * h * 3);
	return true;
}

void img_free(img_t *im)
{
	if (im->px) {
		free(im->px);
		img_live_add(-(int64_t)im->w * im->h * 3);
	}
	im->px = NULL;
}

void blob_free(img_blob_t *b)
{
	if (b->data) {
		free(b->data);
		img_live_add(-(int64_t)b->len);
	}
	b->data = NULL;
	b->len = 0;
}

// ---------------------------------------------------------------------------
// Requests

typedef struct request_s {
	unsigned id, w, h;
	const char *op;
	img_fmt_t fmt;
	char err[160];
} request_t;

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, const char *type,
			     const void *data, size_t len)
{
	struct MHD_Response *r =
		MHD_create_response_from_buffer(len, (void *)data, MHD_RESPMEM_MUST_COPY);
	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, "Content-Type", type);
	enum MHD_Result ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result reply_text(struct MHD_Connection *c, unsigned status, const char *msg)
{
	char body[256];
	int n = snprintf(body, sizeof(body), "%s\n", msg);
	if (status == MHD_HTTP_BAD_REQUEST)
		as_atomic_fetch_add_relaxed(&n_bad, 1); // statistics only
	else if (status == MHD_HTTP_NOT_FOUND)
		as_atomic_fetch_add_relaxed(&n_notfound, 1); // statistics only
	else if (status >= 500)
		as_atomic_fetch_add_relaxed(&n_fail, 1); // statistics only
	return reply(c, status, "text/plain", body, (size_t)n);
}

static bool parse_dim(const char *v, unsigned *out)
{
	char *end;
	errno = 0;
	unsigned long x = strtoul(v, &end, 10);
	if (end == v || *end || errno || v[0] == '-' || v[0] == '+' || x == 0 || x > max_dim)
		return false;
	*out = (unsigned)x;
	return true;
}

/// Check one query argument; the first problem found is kept in r->err.
static enum MHD_Result check_arg(void *cls, enum MHD_ValueKind kind, const char *key,
				 const char *value)
{
	request_t *r = cls;
	(void)kind;
	if (r->err[0])
		return MHD_YES;
	if (!value)
		value = "";
	if (!strcmp(key, "w") || !strcmp(key, "h")) {
		if (!parse_dim(value, !strcmp(key, "w") ? &r->w : &r->h))
			snprintf(r->err, sizeof(r->err), "%s must be an integer in 1..%u, got '%.32s'",
				 key, max_dim, value);
	} else if (!strcmp(key, "op")) {
		static const char *const ops[] = { "resize", "blur", "sharpen", "thumb" };
		r->op = NULL;
		for (unsigned i = 0; i < 4; i++)
			if (!strcmp(value, ops[i]))
				r->op = ops[i];
		if (!r->op)
			snprintf(r->err, sizeof(r->err),
				 "op must be resize, blur, sharpen or thumb, got '%.32s'", value);
	} else if (!strcmp(key, "fmt")) {
		if (!strcmp(value, "png"))
			r->fmt = IMG_PNG;
		else if (!strcmp(value, "jpeg") || !strcmp(value, "jpg"))
			r->fmt = IMG_JPEG;
		else
			snprintf(r->err, sizeof(r->err), "fmt must be png or jpeg, got '%.32s'", value);
	} else {
		snprintf(r->err, sizeof(r->err), "unknown parameter '%.32s'", key);
	}
	return MHD_YES;
}

static bool render(const request_t *r, img_blob_t *out, char *err, size_t errlen)
{
	img_t src, sized, done;
	if (!img_decode(store_get(r->id), &src, err, errlen))
		return false;
	unsigned w = r->w;
	unsigned h = r->h;
	if (!strcmp(r->op, "thumb"))
		img_fit(src.w, src.h, r->w, r->h, &w, &h);
	bool ok = img_resize(&src, w, h, &sized);
	img_free(&src);
	if (!ok) {
		snprintf(err, errlen, "out of memory");
		return false;
	}
	if (!strcmp(r->op, "blur"))
		ok = img_blur(&sized, 2.0, &done);
	else if (!strcmp(r->op, "sharpen"))
		ok = img_sharpen(&sized, 0.8, &done);
	else {
		done = sized;
		sized = (img_t){ 0 };
	}
	img_free(&sized);
	if (!ok) {
		snprintf(err, errlen, "out of memory");
		return false;
	}
	ok = img_encode(&done, r->fmt, quality, out, err, errlen);
	img_free(&done);
	return ok;
}

typedef struct send_ctx_s {
	struct MHD_Connection *c;
	const char *type;
	enum MHD_Result ret;
} send_ctx_t;

static void send_cached(const uint8_t *data, size_t len, void *arg)
{
	send_ctx_t *s = arg;
	s->ret = reply(s->c, MHD_HTTP_OK, s->type, data, len);
}

static enum MHD_Result handle_img(struct MHD_Connection *c, const char *idtext)
{
	request_t r = { .w = 320, .h = 240, .op = "resize", .fmt = IMG_JPEG };
	char *end;
	errno = 0;
	unsigned long id = strtoul(idtext, &end, 10);
	if (end == idtext || *end || errno || idtext[0] == '-' || idtext[0] == '+')
		return reply_text(c, MHD_HTTP_BAD_REQUEST, "image id must be a decimal number");
	if (id >= store_count())
		return reply_text(c, MHD_HTTP_NOT_FOUND, "no such image");
	r.id = (unsigned)id;
	if (!strcmp(r.op, "thumb"))
		r.w = r.h = 128;
	MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, check_arg, &r);
	if (r.err[0])
		return reply_text(c, MHD_HTTP_BAD_REQUEST, r.err);

	char key[96];
	snprintf(key, sizeof(key), "%u:%s:%ux%u:%d", r.id, r.op, r.w, r.h, (int)r.fmt);
	send_ctx_t s = { c, r.fmt == IMG_PNG ? "image/png" : "image/jpeg", MHD_NO };
	if (cache_with(key, send_cached, &s)) {
		as_atomic_fetch_add_relaxed(&n_ok, 1); // statistics only
		return s.ret;
	}
	img_blob_t out;
	char err[160];
	if (!render(&r, &out, err, sizeof(err)))
		return reply_text(c, MHD_HTTP_INTERNAL_SERVER_ERROR, err);
	enum MHD_Result ret = reply(c, MHD_HTTP_OK, s.type, out.data, out.len);
	cache_put(key, &out); // the cache owns (or frees) the result now
	as_atomic_fetch_add_relaxed(&n_ok, 1); // statistics only
	return ret;
}

static enum MHD_Result handle_stats(struct MHD_Connection *c)
{
	uint64_t hits, misses, ev;
	size_t bytes, entries;
	char body[512];
	cache_stats(&hits, &misses, &ev, &bytes, &entries);
	int n = snprintf(body, sizeof(body),
			 "requests %llu\nok %llu\nbad_request %llu\nnot_found %llu\nfailed %llu\n"
			 "cache_hits %llu\ncache_misses %llu\ncache_evictions %llu\n"
			 "cache_bytes %zu\ncache_entries %zu\nstore_bytes %zu\n",
			 (unsigned long long)as_atomic_load_relaxed(&n_requests),
			 (unsigned long long)as_atomic_load_relaxed(&n_ok),
			 (unsigned long long)as_atomic_load_relaxed(&n_bad),
			 (unsigned long long)as_atomic_load_relaxed(&n_notfound),
			 (unsigned long long)as_atomic_load_relaxed(&n_fail),
			 (unsigned long long)hits, (unsigned long long)misses,
			 (unsigned long long)ev, bytes, entries, store_bytes());
	return reply(c, MHD_HTTP_OK, "text/plain", body, (size_t)n);
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url,
			       const char *method, const char *version, const char *upload,
			       size_t *upload_size, void **state)
{
	(void)cls;
	(void)version;
	(void)upload;
	// Called twice per request: first with headers only (we accept), then
	// to produce the answer. GET has no body, so the second call answers.
	if (*state == NULL) {
		*state = (void *)1;
		return MHD_YES;
	}
	if (*upload_size) {
		*upload_size = 0; // ignore any body
		return MHD_YES;
	}
	as_atomic_fetch_add_relaxed(&n_requests, 1); // statistics only
	if (strcmp(method, "GET") != 0)
		return reply_text(c, MHD_HTTP_METHOD_NOT_ALLOWED, "only GET is served");
	if (!strncmp(url, "/img/", 5))
		return handle_img(c, url + 5);
	if (!strcmp(url, "/stats"))
		return handle_stats(c);
	if (!strcmp(url, "/health"))
		return reply(c, MHD_HTTP_OK, "text/plain", "ok\n", 3);
	return reply_text(c, MHD_HTTP_NOT_FOUND, "unknown path (try /img/<id>, /stats, /health)");
}

// ---------------------------------------------------------------------------

static void announce_port(unsigned port)
{
	const char *path = as_param_str("port_file");
	if (!path[0]) {
		fprintf(stderr, "imgserver: listening on 127.0.0.1:%u\n", port);
		return;
	}
	char tmp[4096];
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	FILE *f = fopen(tmp, "w");
	if (!f || fprintf(f, "%u\n", port) < 0 || fclose(f) != 0 || rename(tmp, path) != 0)
		as_die(1, "cannot write port_file '%s': %s", path, strerror(errno));
}

int main(int argc, char **argv)
{
	as_probe_init(argc, argv, workloads);
	unsigned port = (unsigned)as_param_u64_range("port", 0, 65535);
	unsigned images = (unsigned)as_param_u64_range("images", 1, 4096);
	size_t cache_mb = as_param_u64_range("cache_mb", 1, 1u << 20);
	max_dim = (unsigned)as_param_u64_range("max_dim", 16, 16384);
	quality = (int)as_param_u64_range("quality", 1, 100);
	unsigned conn_limit = (unsigned)as_param_u64_range("conn_limit", 1, 65536);

	// Block the stop signals before any thread exists, so they are
	// delivered to sigwait below and nowhere else.
	sigset_t stop;
	sigemptyset(&stop);
	sigaddset(&stop, SIGTERM);
	sigaddset(&stop, SIGINT);
	pthread_sigmask(SIG_BLOCK, &stop, NULL);
	signal(SIGPIPE, SIG_IGN);

	char err[256];
	if (!store_init(images, as_probe_seed(), err, sizeof(err)))
		as_probe_fail("image store: %s", err);
	cache_init(cache_mb << 20);

	struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK); // loopback only, always
	struct MHD_OptionItem opts[] = {
		{ MHD_OPTION_SOCK_ADDR, 0, &addr },
		{ MHD_OPTION_CONNECTION_LIMIT, (intptr_t)conn_limit, NULL },
		{ MHD_OPTION_CONNECTION_TIMEOUT, 30, NULL },
		// A pool of one is no pool: MHD then warns; leave the option out.
		{ as_probe_threads() > 1 ? MHD_OPTION_THREAD_POOL_SIZE : MHD_OPTION_END,
		  (intptr_t)as_probe_threads(), NULL },
		{ MHD_OPTION_END, 0, NULL },
	};
	struct MHD_Daemon *d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG,
						(uint16_t)port, NULL, NULL, handler, NULL,
						MHD_OPTION_ARRAY, opts, MHD_OPTION_END);
	if (!d)
		as_probe_fail("cannot listen on 127.0.0.1:%u (port in use?)", port);
	const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
	announce_port(info ? info->port : port);

	int sig;
	sigwait(&stop, &sig);
	MHD_stop_daemon(d);

	uint64_t hits, misses, ev;
	size_t bytes, entries;
	cache_stats(&hits, &misses, &ev, &bytes, &entries);
	as_probe_metric("server_requests", (double)as_atomic_load_relaxed(&n_requests));
	as_probe_metric("server_errors", (double)as_atomic_load_relaxed(&n_fail));
	as_probe_metric("cache_hit_rate", hits + misses ? (double)hits / (double)(hits + misses) : 0);
	as_probe_metric("cache_evictions", (double)ev);
	size_t smin, smax;
	store_range(&smin, &smax);
	as_probe_metric("store_bytes", (double)store_bytes());
	as_probe_metric("store_min_bytes", (double)smin);
	as_probe_metric("store_max_bytes", (double)smax);
	as_probe_sample_now(); // the timeline's last point with everything held
	cache_free();
	store_free();
	as_probe_finish();
	return 0;
}
