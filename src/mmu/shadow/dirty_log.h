/*
 * dirty_log.h - dirty logging in the shadow MMU (dirty_log.c; fetching the
 * log is mmu.h's mmu_get_dirty_log).
 */
#ifndef SMMU_SHADOW_DIRTY_LOG_H
#define SMMU_SHADOW_DIRTY_LOG_H

#include "mmu/mmu_internal.h"

/* Logging starts on slot: every spte mapping it loses W (mmu_lock held). */
void mmu_slot_write_protect(struct mmu_vm *vm, struct memslot *slot);

#endif /* SMMU_SHADOW_DIRTY_LOG_H */
