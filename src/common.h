/*
 * common.h - vocabulary shared by every layer of the library.
 *
 * The address-space names are KVM's (Documentation/virt/kvm/mmu.rst):
 *   gva  guest virtual address      gpa  guest physical address
 *   gfn  guest frame number          hva  host virtual address (here: an offset
 *   hpa  host physical address            in a VM's host address space)
 *        (an offset in the arena)    pfn  host frame number (hpa >> 12)
 */
#ifndef SMMU_COMMON_H
#define SMMU_COMMON_H

#include <assert.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

typedef uint64_t gva_t;
typedef uint64_t gpa_t;
typedef uint64_t gfn_t;
typedef uint64_t hva_t;
typedef uint64_t hpa_t;
typedef uint64_t pfn_t;

#define PAGE_SHIFT 12
#define PAGE_SIZE  (1ull << PAGE_SHIFT)
#define PAGE_MASK  (~(PAGE_SIZE - 1))

#define INVALID_HPA (~0ull)
#define INVALID_GFN (~0ull)

#define likely(x)   __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)
#define NOINLINE    __attribute__((noinline))
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/*
 * The head of a reverse-map list (rmap) or of a shadow page's parent-pte
 * list: either empty (0), one spte pointer, or a tagged pointer to a chain
 * of descriptors (src/mmu/pte_list.h).  Memslots hold arrays of these, one
 * per gfn and page-size level, as KVM's kvm_rmap_head.
 */
struct rmap_head {
	uintptr_t val;
};

/* Internal consistency checks: on in debug and sanitizer builds, gone in release. */
#ifdef NDEBUG
#define SMMU_ASSERT(x) ((void)0)
#else
#define SMMU_ASSERT(x) assert(x)
#endif

static inline gfn_t gpa_to_gfn(gpa_t gpa)
{
	return gpa >> PAGE_SHIFT;
}

static inline gpa_t gfn_to_gpa(gfn_t gfn)
{
	return gfn << PAGE_SHIFT;
}

/* Bits [hi:lo] set, inclusive; hi < 64. */
static inline uint64_t bits_range(unsigned hi, unsigned lo)
{
	return ((hi == 63) ? ~0ull : ((1ull << (hi + 1)) - 1)) & ~((1ull << lo) - 1);
}

/*
 * A/D update of a 4- or 8-byte paging-structure entry at p, as the hardware
 * makes it (SDM 4.8: a locked compare-and-exchange); relaxed, since the
 * entry's own value is all it orders.  0 if *p held old, 1 if not.
 */
static inline int smmu_cmpxchg_entry(void *p, unsigned size, uint64_t old, uint64_t new_val)
{
	if (size == 4) {
		uint32_t expected = (uint32_t)old;

		return __atomic_compare_exchange_n((uint32_t *)p, &expected, (uint32_t)new_val,
		                                   false, __ATOMIC_RELAXED, __ATOMIC_RELAXED)
		           ? 0
		           : 1;
	}
	return __atomic_compare_exchange_n((uint64_t *)p, &old, new_val, false, __ATOMIC_RELAXED,
	                                   __ATOMIC_RELAXED)
	           ? 0
	           : 1;
}

/* Monotonic wall-clock time in seconds (run and bench timings). */
static inline double smmu_now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

#endif /* SMMU_COMMON_H */
