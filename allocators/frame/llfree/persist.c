// SPDX-License-Identifier: MIT
// llfree persistence (llfree_persist.h): the lower region in a MAP_SHARED
// file mapping, open with clean or deep recovery, clean close. The region
// is position-independent (offsets only, internal.h), so the file may be
// mapped at any address. The durability model and its msync points are
// described in llfree_persist.h.
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "as/clock.h"
#include "child.h"
#include "internal.h"
#include "llfree_persist.h"

extern const struct frame_ops llfree_ops;

static size_t page_up(size_t bytes)
{
	size_t pg = (size_t)sysconf(_SC_PAGESIZE);
	return (bytes + pg - 1) / pg * pg;
}

// Map `fd` of `bytes` shared read-write; NULL with the reason in err.
static void *map_file(int fd, size_t bytes, const char *path, char *err, size_t errlen)
{
	void *m = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (m == MAP_FAILED) {
		snprintf(err, errlen, "llfree-persist: mmap %s: %s", path, strerror(errno));
		return NULL;
	}
	return m;
}

frame_alloc_t *llf_persist_open(const char *path, uint64_t frames, unsigned cores,
				const char *options, bool deep, llf_persist_info_t *info,
				char *err, size_t errlen)
{
	llf_persist_info_t dummy;
	if (!info)
		info = &dummy;
	memset(info, 0, sizeof(*info));
	int fd = open(path, O_RDWR | O_CREAT, 0600);
	if (fd < 0) {
		snprintf(err, errlen, "llfree-persist: open %s: %s", path, strerror(errno));
		return NULL;
	}
	struct stat st;
	if (fstat(fd, &st) < 0) {
		snprintf(err, errlen, "llfree-persist: stat %s: %s", path, strerror(errno));
		goto out_close;
	}
	void *region;
	size_t bytes;
	if (st.st_size == 0) {
		if (frames == 0 || frames % FRAME_ALIGN_FRAMES || frames > (1ull << 40)) {
			snprintf(err, errlen,
				 "llfree-persist: frames must be a positive multiple of %u, at most 2^40",
				 FRAME_ALIGN_FRAMES);
			goto out_close;
		}
		bytes = page_up(llf_lower_size(frames));
		if (ftruncate(fd, (off_t)bytes) < 0) {
			snprintf(err, errlen, "llfree-persist: truncate %s: %s", path,
				 strerror(errno));
			goto out_close;
		}
		region = map_file(fd, bytes, path, err, errlen);
		if (!region)
			goto out_close;
		llf_lower_init(region, frames);
		// Layout durable before the file can be seen as a valid region.
		msync(region, bytes, MS_SYNC);
		info->created = true;
	} else {
		bytes = (size_t)st.st_size;
		if (bytes < sizeof(llf_lower_hdr_t)) {
			snprintf(err, errlen, "llfree-persist: %s is too small (%zu bytes)", path,
				 bytes);
			goto out_close;
		}
		region = map_file(fd, bytes, path, err, errlen);
		if (!region)
			goto out_close;
		const llf_lower_hdr_t *h = region;
		if (h->magic != LLF_LOWER_MAGIC) {
			snprintf(err, errlen, "llfree-persist: %s is not an llfree region", path);
			goto out_unmap;
		}
		if (frames && h->frames != frames) {
			snprintf(err, errlen,
				 "llfree-persist: %s holds %llu frames, %llu were requested", path,
				 (unsigned long long)h->frames, (unsigned long long)frames);
			goto out_unmap;
		}
		if (bytes != page_up((size_t)h->bytes)) {
			snprintf(err, errlen, "llfree-persist: %s has %zu bytes, its header says %llu",
				 path, bytes, (unsigned long long)page_up((size_t)h->bytes));
			goto out_unmap;
		}
		info->was_crashed = h->crashed != 0;
	}
	close(fd);
	uint64_t t0 = as_now_ns();
	frame_alloc_t *fa = llf_create_from_lower(region, bytes, cores, options, deep, err, errlen);
	info->recover_ns = as_now_ns() - t0;
	if (!fa) {
		munmap(region, bytes);
		return NULL;
	}
	// create_from_lower set the crashed flag; make it (and the recounted
	// children) durable before the first allocation can change the bits.
	msync(region, bytes, MS_SYNC);
	info->frames = llf_of(fa)->frames;
	info->file_bytes = bytes;
	return fa;

out_unmap:
	munmap(region, bytes);
out_close:
	close(fd);
	return NULL;
}

void llf_persist_close(frame_alloc_t *fa)
{
	if (!fa)
		return;
	llf_t *l = llf_of(fa);
	void *region = l->lower;
	llf_lower_hdr_t *h = region;
	size_t bytes = page_up(l->lower_bytes);
	// Everything but the flag first, then the cleared flag: a power loss
	// in between leaves the flag set and forces a (harmless) deep recovery.
	msync(region, bytes, MS_SYNC);
	llfree_ops.destroy(fa); // clears h->crashed: the region is not owned
	msync(region, page_up(sizeof(*h)), MS_SYNC);
	munmap(region, bytes);
}

bool llf_persist_frame_allocated(frame_alloc_t *fa, uint64_t frame)
{
	llf_t *l = llf_of(fa);
	if (frame >= l->frames)
		return false;
	uint64_t c = frame / LLF_CHILD_FRAMES;
	if (llf_child_is_huge(as_atomic_load_acquire(llf_child(l, c))))
		return true;
	uint64_t w = as_atomic_load_acquire(&llf_field(l, c)[(frame % LLF_CHILD_FRAMES) / 64]);
	return (w >> (frame % 64)) & 1u;
}
