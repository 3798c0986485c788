/*
 * shadowmmu/shortcuts.h - switches for the shortcuts the MMU and the
 * software vCPU take beyond KVM's algorithm (smmu_vm_config.shortcuts), one
 * bit each, as Xen's shadow code has one SHOPT_* flag per optimisation: so
 * that each can be measured on its own and blamed when something breaks.
 * A shortcut switched off leaves exactly the ordinary path; every guest
 * outcome is the same either way (tests/test_mmu_diff.c runs both ways), only
 * the statistics that count the shortcut itself and the time differ.
 *
 * X(ENUM, name, what it skips) - the name is the CLI's `--no-NAME` flag
 * (underscores as dashes) and smmu_shortcut_name()'s answer.  See the
 * table in docs/mmu.md, "Shortcuts and their switches".
 */
#ifndef SHADOWMMU_SHORTCUTS_H
#define SHADOWMMU_SHORTCUTS_H

#define SMMU_SHORTCUT_LIST(X)                                                                  \
	X(PSC, psc, "vCPU paging-structure cache: a TLB miss reads one spte")                  \
	X(FAULT_PATH, fault_path, "a fault reuses the last fault's shadow path")               \
	X(GFN_CACHE, gfn_cache, "gfn -> host frame cache for gpte reads")                      \
	X(HPTE_WINDOW, hpte_window, "host pte read without the host lock")                     \
	X(MMIO_SPTE, mmio_spte, "MMIO sptes: a repeated MMIO access skips the guest walk")     \
	X(LEAF_HANDBACK, leaf_handback, "the vCPU fills its TLB from the MMU's new leaf")       \
	X(PREFETCH_HINTS, prefetch_hints, "smmu_vcpu_prefetch starts loading host memory")   \
	X(NESTED_TLB, nested_tlb, "TDP: gpa -> hpa cache (and EPT PDE cache) for the 2D walk") \
	X(PSC_2D, psc_2d, "TDP: cached upper guest entries: a miss reads only the last")

enum smmu_shortcut_index {
#define SMMU_SHORTCUT_INDEX(e, name, what) SMMU_SHORTCUT_INDEX_##e,
	SMMU_SHORTCUT_LIST(SMMU_SHORTCUT_INDEX)
#undef SMMU_SHORTCUT_INDEX
	SMMU_NR_SHORTCUTS
};

#define SMMU_SHORTCUT_PSC            (1u << SMMU_SHORTCUT_INDEX_PSC)
#define SMMU_SHORTCUT_FAULT_PATH     (1u << SMMU_SHORTCUT_INDEX_FAULT_PATH)
#define SMMU_SHORTCUT_GFN_CACHE      (1u << SMMU_SHORTCUT_INDEX_GFN_CACHE)
#define SMMU_SHORTCUT_HPTE_WINDOW    (1u << SMMU_SHORTCUT_INDEX_HPTE_WINDOW)
#define SMMU_SHORTCUT_MMIO_SPTE      (1u << SMMU_SHORTCUT_INDEX_MMIO_SPTE)
#define SMMU_SHORTCUT_LEAF_HANDBACK  (1u << SMMU_SHORTCUT_INDEX_LEAF_HANDBACK)
#define SMMU_SHORTCUT_PREFETCH_HINTS (1u << SMMU_SHORTCUT_INDEX_PREFETCH_HINTS)
#define SMMU_SHORTCUT_NESTED_TLB     (1u << SMMU_SHORTCUT_INDEX_NESTED_TLB)
#define SMMU_SHORTCUT_PSC_2D         (1u << SMMU_SHORTCUT_INDEX_PSC_2D)
/* Every shortcut: the default.  Bits outside it make smmu_vm_create fail (-EINVAL). */
#define SMMU_SHORTCUTS_ALL ((1u << SMMU_NR_SHORTCUTS) - 1)

#endif /* SHADOWMMU_SHORTCUTS_H */
