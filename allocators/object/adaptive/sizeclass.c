// SPDX-License-Identifier: MIT
// Size classes: 16..128 bytes in steps of 16, then 8 classes per doubling up
// to 32 KiB (steps of 1/8 of the lower power of two), so a request wastes
// less than 1/9 of its class. Power-of-two classes of 128 B and more start
// their objects at an offset equal to their size, so every object of those
// classes is naturally aligned (aligned_alloc up to 32 KiB stays small); the
// other classes start right after the slab's (coloured, internal.h) 64-byte
// header, at a multiple of 64.
#include "internal.h"

uint32_t adp_cls_size[ADP_NCLS];
uint32_t adp_cls_off[ADP_NCLS];
uint32_t adp_cls_align[ADP_NCLS];
uint32_t adp_cls_count[ADP_NCLS];
uint8_t adp_cls_lut[ADP_LUT_MAX / 16 + 1];

unsigned adp_class_slow(size_t size)
{
	if (size <= 128)
		return size == 0 ? 0 : (unsigned)((size + 15) >> 4) - 1;
	unsigned k = 63u - (unsigned)__builtin_clzll((unsigned long long)(size - 1));
	size_t step = (size_t)1 << (k - 3);
	size_t sub = (size - ((size_t)1 << k) + step - 1) / step; // 1..8
	return 8 + (k - 7) * 8 + (unsigned)sub - 1;
}

void adp_sizeclass_init(void)
{
	for (unsigned c = 0; c < 8; c++)
		adp_cls_size[c] = 16 * (c + 1);
	for (unsigned k = 7, c = 8; k < 15; k++)
		for (unsigned s = 1; s <= 8; s++, c++)
			adp_cls_size[c] = (1u << k) + s * (1u << (k - 3));
	for (unsigned c = 0; c < ADP_NCLS; c++) {
		uint32_t sz = adp_cls_size[c];
		adp_cls_align[c] = (sz >= 128 && as_is_pow2(sz)) ? sz : 16;
		// The last colour's header ends at ADP_COLOR_SPAN.
		adp_cls_off[c] = (uint32_t)as_align_up(ADP_COLOR_SPAN, adp_cls_align[c]);
		adp_cls_count[c] = (uint32_t)((ADP_SLAB - adp_cls_off[c]) / sz);
	}
	for (unsigned i = 1; i <= ADP_LUT_MAX / 16; i++)
		adp_cls_lut[i] = (uint8_t)adp_class_slow((size_t)i * 16);
	adp_cls_lut[0] = 0;
}

unsigned adp_class_aligned(size_t size, size_t align)
{
	if (size > ADP_SMALL_MAX || align > ADP_SMALL_MAX)
		return ADP_NCLS;
	if (align <= ADP_HDR) {
		for (unsigned c = adp_class_slow(size); c < ADP_NCLS; c++)
			if (adp_cls_size[c] % align == 0)
				return c;
		return ADP_NCLS;
	}
	size_t need = AS_MAX(size, align);
	size_t p2 = 128;
	while (p2 < need)
		p2 <<= 1;
	return p2 > ADP_SMALL_MAX ? ADP_NCLS : adp_class_slow(p2);
}

unsigned adp_class_index(size_t size)
{
	return size > ADP_SMALL_MAX ? ADP_NCLS : adp_class_slow(size);
}

size_t adp_class_bytes(unsigned cls)
{
	return cls < ADP_NCLS ? adp_cls_size[cls] : 0;
}
