/*
 * pfn.h - what a host frame lookup answers (hostmem_hva_to_pfn and the MMU's
 * gfn -> pfn through its slot interface): a type only, so that the MMU's
 * gate (mmu/slot_iface.h) can hand it on without exposing the host layer.
 */
#ifndef SMMU_HOST_PFN_H
#define SMMU_HOST_PFN_H

#include "common.h"

struct host_pfn {
	pfn_t pfn;     /* frame of the 4 KiB page containing hva */
	int level;     /* enum hostmem_level of the host mapping around hva */
	bool writable; /* the MMU may map it writable */
};

#endif /* SMMU_HOST_PFN_H */
