/*
 * audit.h - the shadow MMU's invariant checker (audit.c).
 */
#ifndef SMMU_SHADOW_AUDIT_H
#define SMMU_SHADOW_AUDIT_H

#include "mmu/mmu_internal.h"

/* 0, or -EUCLEAN with the first broken invariant described in msg. */
int mmu_audit(struct mmu_vm *vm, char *msg, size_t msglen);
/* With vm->audit set (or SMMU_AUDIT), run the VM's checker and abort on a broken invariant (tests). */
void mmu_audit_if_enabled(struct mmu_vm *vm);

#endif /* SMMU_SHADOW_AUDIT_H */
