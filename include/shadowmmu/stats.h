/*
 * shadowmmu/stats.h - the MMU's statistics, named as KVM names them (its
 * kvm/ debugfs files), so figures compare directly with a real KVM's.
 * Counters only grow; gauges (mmu_unsync, pages_*) go up and down.
 */
#ifndef SHADOWMMU_STATS_H
#define SHADOWMMU_STATS_H

#define SMMU_MMU_STATS(X)                                                               \
	X(pf_fixed)           /* faults fixed by installing an spte */              \
	X(pf_guest)           /* faults reflected to the guest as #PF */            \
	X(pf_emulate)         /* faults emulated (writes to shadowed tables) */     \
	X(pf_mmio)            /* accesses to gpas no memslot backs */               \
	X(pf_mmio_spte)       /* of those, answered from an MMIO spte, no walk */ \
	X(pf_spurious)        /* faults that found the spte already fixed */        \
	X(mmu_shadow_zapped)  /* shadow pages zapped */                             \
	X(mmu_pte_write)      /* emulated writes to shadowed guest tables */        \
	X(mmu_pte_updated)    /* sptes updated in place from a written gpte */      \
	X(mmu_pde_zapped)     /* nonleaf sptes dropped by a written gpte */         \
	X(mmu_flooded)        /* pages unshadowed by write flooding */              \
	X(mmu_recycled)       /* pages zapped to stay under n_max_mmu_pages */      \
	X(mmu_cache_miss)     /* shadow page lookups that created a page */         \
	X(mmu_unsync)         /* gauge: unsync shadow pages */                      \
	X(mmu_sync)           /* unsync pages resynchronized */                     \
	X(invlpg)             /* guest INVLPG */                                    \
	X(tlb_flush)          /* guest TLB flushes (cr3 loads, flush) */            \
	X(remote_tlb_flush)   /* MMU-initiated flushes of all vCPU TLBs */          \
	X(root_load)          /* roots built or found on a cr3/mode change */       \
	X(root_cache_hit)     /* cr3 switches served by a cached root */            \
	X(zap_all)            /* fast zap-all (generation bumps) */                 \
	X(obsolete_freed)     /* obsolete pages freed after a zap-all */            \
	X(pages_4k)           /* gauge: 4 KiB leaf sptes */                         \
	X(pages_2m)           /* gauge: 2 MiB leaf sptes */                         \
	X(pages_1g)           /* gauge: 1 GiB leaf sptes */                         \
	X(nx_lpage_splits)    /* gauge: TDP tables split from a huge page for exec */


#endif /* SHADOWMMU_STATS_H */
