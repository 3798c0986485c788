/*
 * stats.h - the MMU's statistics, named as KVM names them (the kvm/ and
 * per-vCPU debugfs files), so that figures compare directly with a real
 * KVM's.  Counters only grow; gauges (mmu_unsync, pages_*) go up and down.
 */
#ifndef SMMU_MMU_STATS_H
#define SMMU_MMU_STATS_H

#include <stdint.h>

#include <shadowmmu/stats.h>

#define MMU_STATS(X) SMMU_MMU_STATS(X)

struct mmu_stats {
#define MMU_STAT_FIELD(name) uint64_t name;
	MMU_STATS(MMU_STAT_FIELD)
#undef MMU_STAT_FIELD
};

#endif /* SMMU_MMU_STATS_H */
