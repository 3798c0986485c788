/* flatmem.c - the byte-buffer guest memory of flatmem.h. */
#include "support/flatmem.h"

#include <errno.h>
#include <string.h>

int flatmem_read(void *ctx, uint64_t gpa, unsigned size, uint64_t *val)
{
	const struct flatmem *fm = ctx;

	if (gpa >= fm->size || fm->size - gpa < size)
		return -EFAULT;
	*val = 0;
	memcpy(val, fm->buf + gpa, size);
	return 0;
}

/* Bounds first, then read-only, then the compare: the order a memslot lookup gives. */
int flatmem_cmpxchg(void *ctx, uint64_t gpa, unsigned size, uint64_t old, uint64_t new_val)
{
	struct flatmem *fm = ctx;
	uint64_t cur;

	if (flatmem_read(ctx, gpa, size, &cur) < 0)
		return -EFAULT;
	if (gpa >= fm->ro_base)
		return -EROFS;
	if (cur != old)
		return 1;
	memcpy(fm->buf + gpa, &new_val, size);
	return 0;
}
