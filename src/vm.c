/*
 * vm.c - the glue: a VM (arena, host address space, memslots, shadow MMU)
 * and its vCPUs, behind the public API of shadowmmu/shadowmmu.h.
 *
 * The software vCPU (src/cpu/vcpu_cpu.c) knows the MMU only through
 * struct vcpu_mmu_ops; this file implements those ops on top of the MMU
 * (src/mmu/mmu.h) and keeps the vCPU's root register equal to the MMU's
 * current root after every MMU event, as KVM's kvm_mmu_load() programs
 * the hardware's cr3.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <shadowmmu/shadowmmu.h>

#include "host/arena.h"
#include "host/hostmem.h"
#include "memslot/memslot.h"
#include "mmu/mmu.h"
#include "cpu/vcpu_cpu.h"

#define SMMU_DEFAULT_ARENA (16ull << 30)

/*
 * Shadow paging's VM exits by reason, counted where the vCPU hands them to
 * the MMU (the vcpu_mmu_ops below); smmu_stats' exits_* (docs/cli.md).
 * TDP's exits are the vCPU's own exit reasons (EPT violation, misconfig).
 */
struct vm_exit_counts {
	uint64_t pf, pte_write, mmio, cr3, invlpg;
};

struct smmu_vcpu {
	struct smmu_vm *vm;
	unsigned id;
	bool shadow; /* shadow paging: #PF, CR3 and INVLPG exit */
	struct vm_exit_counts exits;
	struct vcpu_cpu cpu;
	struct mmu_vcpu *mmu;
};

struct smmu_vm {
	struct smmu_vm_config cfg;
	struct arena *arena;
	struct hostmem *hm;
	struct memslots slots;
	struct mmu_vm *mmu;
	struct smmu_vcpu *vcpus;
};

void smmu_vm_config_default(struct smmu_vm_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->nr_vcpus = 1;
	smmu_cpu_model_default(&cfg->model);
	cfg->arena_bytes = SMMU_DEFAULT_ARENA;
	cfg->unsync = true;
	cfg->shortcuts = SMMU_SHORTCUTS_ALL;
}

/* ---- keeping the vCPU's root register in step with the MMU -------------- */
/*
 * Point the vCPU at the MMU's current root.  A root that was just built
 * (not a cached one reached by a cr3 switch, whose TLB entries the
 * architecture governs) starts with a flushed TLB, as kvm_mmu_load()
 * flushes: entries made under the old context may carry rights (the
 * CR0.WP=0 supervisor-write sptes, for one) that the new context forbids.
 */
static NOINLINE void install_new_root(struct smmu_vcpu *vc, hpa_t root, unsigned level,
                                      bool flush_if_changed)
{
	vcpu_cpu_set_root(&vc->cpu, root, level);
	if (flush_if_changed)
		vcpu_cpu_tlb_flush(&vc->cpu, SMMU_FLUSH_ALL);
}

/* Inlined into every MMU call: the root rarely changes, and the check is a few loads. */
static inline __attribute__((always_inline)) void install_root(struct smmu_vcpu *vc,
                                                               bool flush_if_changed)
{
	hpa_t root = mmu_root_hpa(vc->mmu);
	const struct vcpu_cpu *c = &vc->cpu;

	if (unlikely(c->tdp)) {
		unsigned level = mmu_root_level(vc->mmu);

		if (c->ept.root != root || c->ept.level != level)
			install_new_root(vc, root, level, flush_if_changed);
		return;
	}
	if (c->walk.root != root || c->walk.root_level != vcpu_cpu_root_level(c))
		install_new_root(vc, root, vcpu_cpu_root_level(c), flush_if_changed);
}

/*
 * After an MMU event from the host side that may have freed roots (zap-all,
 * a slot deleted or moved): no vCPU may keep walking a root whose frame
 * went back to the arena, where it may come back as guest memory.
 */
static void install_all_roots(struct smmu_vm *vm)
{
	for (unsigned i = 0; i < vm->cfg.nr_vcpus; i++)
		if (vm->vcpus[i].mmu)
			install_root(&vm->vcpus[i], true);
}

static void flush_vcpu_tlb(void *ctx, unsigned id)
{
	struct smmu_vm *vm = ctx;

	/* Called under mmu_lock, possibly from another vCPU's thread. */
	vcpu_cpu_kick_tlb_flush(&vm->vcpus[id].cpu);
}

/* ---- struct vcpu_mmu_ops -------------------------------------------------- */
/* One #PF exit of shadow paging, by how the MMU ended it. */
static inline void count_pf_exit(struct smmu_vcpu *vc, enum mmu_fault_action act)
{
	if (!vc->shadow)
		return;
	if (act == MMU_FAULT_EMULATED)
		vc->exits.pte_write++;
	else if (act == MMU_FAULT_MMIO)
		vc->exits.mmio++;
	else
		vc->exits.pf++;
}

static enum vcpu_pf_action op_page_fault(void *ctx, gva_t gva, enum smmu_access_type access,
                                         const struct vcpu_exit *exit, struct vcpu_pf_reply *reply)
{
	struct smmu_vcpu *vc = ctx;
	struct mmu_fault f = {.gva = gva,
	                      .access = access,
	                      .size = exit->size,
	                      .wdata = exit->value,
	                      .exit_spte = exit->reason == HWWALK_RESERVED ? exit->spte : 0,
	                      /* TDP: the gpa whose EPT walk failed, and how */
	                      .gpa = exit->gpa,
	                      .exit_qual = exit->exit_qual,
	                      .ept_misconfig = exit->reason == HWWALK_EPT_MISCONFIG};
	enum mmu_fault_action act;

	if (exit->reason == HWWALK_NO_ROOT) {
		if (mmu_current_root(vc->mmu) == INVALID_HPA)
			return VCPU_PF_FAIL;
		install_root(vc, true);
		return VCPU_PF_RETRY;
	}
	act = mmu_page_fault(vc->mmu, &f);
	count_pf_exit(vc, act);
	install_root(vc, true);
	switch (act) {
	case MMU_FAULT_RETRY:
		/* the leaf is under the root the vCPU walks now (install_root's) */
		reply->leaf_spte = f.leaf_spte;
		reply->leaf_level = f.leaf_level;
		return VCPU_PF_RETRY;
	case MMU_FAULT_PF:
		reply->error_code = f.error_code;
		return VCPU_PF_INJECT;
	case MMU_FAULT_GP:
		return VCPU_PF_FAIL;
	case MMU_FAULT_MMIO:
		return VCPU_PF_MMIO;
	case MMU_FAULT_EMULATED:
		reply->value = 0;
		return VCPU_PF_EMULATED;
	case MMU_FAULT_ERROR:
		break;
	}
	return VCPU_PF_FAIL;
}

/* Does a write of `which` change the paging context (mode or role bits)? */
static bool context_changed(struct smmu_vcpu *vc, enum vcpu_reg which)
{
	if (which == VCPU_REG_PKRU || which == VCPU_REG_CR3)
		return false;
	return mmu_context_stale(vc->mmu);
}

static void op_cr_changed(void *ctx, enum vcpu_reg which, uint64_t old_val, uint64_t new_val)
{
	struct smmu_vcpu *vc = ctx;

	(void)old_val;
	(void)new_val;
	/* MOV to CR3 comes as op_cr3_changed instead (vcpu_mmu_ops.cr3_changed). */
	if (context_changed(vc, which)) {
		mmu_context_changed(vc->mmu);
		install_root(vc, true);
		/* No root now: flush even though the register did not change. */
		vcpu_cpu_tlb_flush(&vc->cpu, SMMU_FLUSH_ALL);
	}
}

static void op_cr3_changed(void *ctx, enum smmu_tlb_flush flush)
{
	struct smmu_vcpu *vc = ctx;

	/* A MOV to CR3 flushes only PCID_NONGLOBAL or nothing (SDM 4.10.4.1). */
	vc->exits.cr3 += vc->shadow;
	mmu_cr3_changed(vc->mmu, flush == SMMU_FLUSH_NONE);
	install_root(vc, false);
}

static void op_invlpg(void *ctx, gva_t gva)
{
	struct smmu_vcpu *vc = ctx;

	vc->exits.invlpg += vc->shadow;
	mmu_invlpg(vc->mmu, gva);
}

static void op_tlb_flush(void *ctx, enum smmu_tlb_flush kind)
{
	struct smmu_vcpu *vc = ctx;

	mmu_guest_tlb_flush(vc->mmu, kind == SMMU_FLUSH_ALL);
	install_root(vc, false);
}

static const struct vcpu_mmu_ops vm_mmu_ops = {
	.page_fault = op_page_fault,
	.cr_changed = op_cr_changed,
	.cr3_changed = op_cr3_changed,
	.invlpg = op_invlpg,
	.tlb_flush = op_tlb_flush,
};

/* ---- VM life cycle -------------------------------------------------------- */
static int vcpu_setup(struct smmu_vm *vm, unsigned id)
{
	struct smmu_vcpu *vc = &vm->vcpus[id];
	struct vcpu_cpu_config cc = {
		.arena = vm->arena,
		.model = &vm->cfg.model,
		.gpa_ops = mmu_gpa_ops(vm->mmu),
		.mmu_ops = &vm_mmu_ops,
		.mmu_ctx = vc,
		.tlb_sets = vm->cfg.tlb_sets,
		.tlb_ways = vm->cfg.tlb_ways,
		.threaded = vm->cfg.threaded,
		.table_gen = mmu_table_gen(vm->mmu),
		.shortcuts = vm->cfg.shortcuts,
		.tdp = vm->cfg.mmu == SMMU_MMU_TDP,
		.ept_ad = vm->cfg.ept_ad,
	};
	int r;

	vc->vm = vm;
	vc->id = id;
	vc->shadow = vm->cfg.mmu == SMMU_MMU_SHADOW;
	r = vcpu_cpu_init(&vc->cpu, &cc);
	if (r)
		return r;
	return mmu_vcpu_create(vm->mmu, id, &vc->cpu.state, &vc->cpu.model, &vc->mmu);
}

static int check_config(const struct smmu_vm_config *cfg)
{
	const struct smmu_cpu_model *m = &cfg->model;

	if (!cfg->nr_vcpus || cfg->nr_vcpus > SMMU_MAX_VCPUS)
		return -EINVAL;
	if (m->maxphyaddr < 32 || m->maxphyaddr > 52)
		return -EINVAL;
	if (cfg->arena_bytes < (16ull << 20))
		return -EINVAL;
	if (!smmu_mmu_mode_name(cfg->mmu) ||
	    ((cfg->ept_ad || cfg->nx_huge_pages || cfg->slot_zap_range) && cfg->mmu != SMMU_MMU_TDP))
		return -EINVAL;
	if (cfg->shortcuts & ~SMMU_SHORTCUTS_ALL)
		return -EINVAL;
	return 0;
}

int smmu_vm_create(const struct smmu_vm_config *cfg, struct smmu_vm **out)
{
	struct mmu_vm_config mc;
	struct smmu_vm *vm;
	int r = check_config(cfg);

	if (r)
		return r;
	vm = calloc(1, sizeof(*vm));
	if (!vm)
		return -ENOMEM;
	vm->cfg = *cfg;
	memslots_init(&vm->slots, NULL, NULL);
	if (cfg->mmu == SMMU_MMU_TDP)
		memslots_set_no_rmaps(&vm->slots); /* the TDP MMU keeps none */
	vm->arena = arena_create(cfg->arena_bytes);
	vm->hm = vm->arena ? hostmem_create(vm->arena) : NULL;
	vm->vcpus = calloc(cfg->nr_vcpus, sizeof(*vm->vcpus));
	if (!vm->hm || !vm->vcpus) {
		smmu_vm_destroy(vm);
		return -ENOMEM;
	}
	mc = (struct mmu_vm_config){
		.arena = vm->arena,
		.slots = &vm->slots,
		.hm = vm->hm,
		.nr_vcpus = cfg->nr_vcpus,
		.n_max_mmu_pages = cfg->n_max_mmu_pages,
		.unsync = cfg->unsync,
		.audit = cfg->audit,
		.shortcuts = cfg->shortcuts,
		.flush_vcpu_tlb = flush_vcpu_tlb,
		.flush_ctx = vm,
		.tdp = cfg->mmu == SMMU_MMU_TDP,
		.ept_ad = cfg->ept_ad,
		/* 5-level EPT once the guest's physical addresses need more than 48 bits (KVM). */
		.tdp_level = cfg->model.maxphyaddr > 48 ? 5 : 4,
		.gbpages = cfg->model.gbpages,
		.nx_huge_pages = cfg->nx_huge_pages,
		.slot_zap_range = cfg->slot_zap_range,
	};
	r = mmu_vm_create(&mc, &vm->mmu);
	for (unsigned i = 0; !r && i < cfg->nr_vcpus; i++)
		r = vcpu_setup(vm, i);
	if (r) {
		smmu_vm_destroy(vm);
		return r;
	}
	*out = vm;
	return 0;
}

static void delete_all_slots(struct smmu_vm *vm)
{
	struct memslot *s;

	while ((s = memslots_at(&vm->slots, 0)))
		smmu_vm_delete_slot(vm, s->id);
}

void smmu_vm_destroy(struct smmu_vm *vm)
{
	if (!vm)
		return;
	if (vm->mmu)
		mmu_zap_all_sync(vm->mmu);
	for (unsigned i = 0; vm->vcpus && i < vm->cfg.nr_vcpus; i++) {
		mmu_vcpu_destroy(vm->vcpus[i].mmu);
		vm->vcpus[i].mmu = NULL; /* install_all_roots skips it from now on */
		if (vm->vcpus[i].vm)
			vcpu_cpu_destroy(&vm->vcpus[i].cpu);
	}
	if (vm->mmu && vm->hm)
		delete_all_slots(vm);
	mmu_vm_destroy(vm->mmu);
	memslots_destroy(&vm->slots);
	if (vm->hm)
		hostmem_destroy(vm->hm);
	if (vm->arena)
		arena_destroy(vm->arena);
	free(vm->vcpus);
	free(vm);
}

/* ---- memslots -------------------------------------------------------------- */
static uint32_t memslot_flags(unsigned flags)
{
	return ((flags & SMMU_SLOT_READONLY) ? MEMSLOT_READONLY : 0) |
	       ((flags & SMMU_SLOT_LOG_DIRTY) ? MEMSLOT_LOG_DIRTY_PAGES : 0);
}

int smmu_vm_add_slot(struct smmu_vm *vm, unsigned id, uint64_t gpa, uint64_t size, unsigned flags)
{
	struct memslot_region r = {.slot = id, .flags = memslot_flags(flags), .guest_phys_addr = gpa,
	                           .memory_size = size};
	hva_t hva;
	int err;

	if (!size || (size & ~PAGE_MASK) || (gpa & ~PAGE_MASK) || (flags & ~3u))
		return -EINVAL;
	if (id >= MEMSLOT_ID_LIMIT || memslots_get(&vm->slots, id))
		return -EEXIST;
	err = hostmem_map(vm->hm, size, vm->cfg.huge_backing ? HOSTMEM_HUGE_2M : 0, &hva);
	if (err)
		return err;
	r.userspace_addr = hva;
	/* For lock-free frame lookups in the fault path; without one it takes the lock. */
	(void)hostmem_window_get(vm->hm, hva, size >> PAGE_SHIFT, &r.host);
	err = memslots_set_region(&vm->slots, &r);
	if (err) {
		hostmem_unmap(vm->hm, hva, size);
		return err;
	}
	/* MMIO sptes cached for these gfns carry an older generation: now stale. */
	mmu_memslot_changed(vm->mmu, memslots_get(&vm->slots, id), false, MMU_SLOT_CREATE);
	return 0;
}

int smmu_vm_delete_slot(struct smmu_vm *vm, unsigned id)
{
	struct memslot *s = id < MEMSLOT_ID_LIMIT ? memslots_get(&vm->slots, id) : NULL;
	struct memslot_region r = {.slot = id};
	hva_t hva;
	uint64_t size;
	int err;

	if (!s)
		return -EINVAL;
	hva = s->userspace_addr;
	size = s->npages << PAGE_SHIFT;
	r.userspace_addr = hva;
	mmu_memslot_prepare(vm->mmu, s, MMU_SLOT_DELETE);
	install_all_roots(vm);
	err = memslots_set_region(&vm->slots, &r);
	if (!err)
		hostmem_unmap(vm->hm, hva, size);
	return err;
}

int smmu_vm_move_slot(struct smmu_vm *vm, unsigned id, uint64_t new_gpa)
{
	struct memslot *s = id < MEMSLOT_ID_LIMIT ? memslots_get(&vm->slots, id) : NULL;
	struct memslot_region r;

	if (!s)
		return -EINVAL;
	r = (struct memslot_region){.slot = id, .flags = s->flags, .guest_phys_addr = new_gpa,
	                            .memory_size = s->npages << PAGE_SHIFT,
	                            .userspace_addr = s->userspace_addr, .host = s->host};
	mmu_memslot_prepare(vm->mmu, s, MMU_SLOT_MOVE);
	install_all_roots(vm);
	return memslots_set_region(&vm->slots, &r);
}

int smmu_vm_set_slot_flags(struct smmu_vm *vm, unsigned id, unsigned flags)
{
	struct memslot *s = id < MEMSLOT_ID_LIMIT ? memslots_get(&vm->slots, id) : NULL;
	struct memslot_region r;
	bool was_logging;
	int err;

	if (!s || (flags & ~3u))
		return -EINVAL;
	r = (struct memslot_region){.slot = id, .flags = memslot_flags(flags),
	                            .guest_phys_addr = gfn_to_gpa(s->base_gfn),
	                            .memory_size = s->npages << PAGE_SHIFT,
	                            .userspace_addr = s->userspace_addr, .host = s->host};
	was_logging = s->flags & MEMSLOT_LOG_DIRTY_PAGES;
	mmu_memslot_prepare(vm->mmu, s, MMU_SLOT_FLAGS_ONLY);
	err = memslots_set_region(&vm->slots, &r);
	if (!err)
		mmu_memslot_changed(vm->mmu, memslots_get(&vm->slots, id), was_logging,
		                    MMU_SLOT_FLAGS_ONLY);
	return err;
}

int smmu_vm_get_dirty_log(struct smmu_vm *vm, unsigned id, uint64_t *bitmap, size_t words)
{
	struct memslot *s = vm && id < MEMSLOT_ID_LIMIT ? memslots_get(&vm->slots, id) : NULL;

	if (!s || !bitmap || words < (s->npages + 63) / 64)
		return -EINVAL;
	return mmu_get_dirty_log(vm->mmu, id, bitmap);
}

/* The hva of every page of [gpa, gpa + size), or -EINVAL if one has no slot. */
typedef int host_page_fn(struct smmu_vm *vm, hva_t hva, uint64_t index, void *arg);

static int for_each_host_page(struct smmu_vm *vm, uint64_t gpa, uint64_t size, host_page_fn *fn,
                              void *arg)
{
	if (!vm || !size || ((gpa | size) & ~PAGE_MASK) || gpa + size < gpa)
		return -EINVAL;
	for (uint64_t i = 0; i < size >> PAGE_SHIFT; i++)
		if (!memslots_find(&vm->slots, gpa_to_gfn(gpa) + i))
			return -EINVAL;
	for (uint64_t i = 0; i < size >> PAGE_SHIFT; i++) {
		gfn_t gfn = gpa_to_gfn(gpa) + i;
		int r = fn(vm, memslot_gfn_to_hva(memslots_find(&vm->slots, gfn), gfn), i, arg);

		if (r)
			return r;
	}
	return 0;
}

/* -EBUSY from the host: a page never touched or huge-backed; nothing to do. */
static int swap_page(struct smmu_vm *vm, hva_t hva, uint64_t index, void *arg)
{
	int r = hostmem_swap_out(vm->hm, hva);

	(void)index;
	(void)arg;
	return r == -EBUSY ? 0 : r;
}

static int migrate_page(struct smmu_vm *vm, hva_t hva, uint64_t index, void *arg)
{
	int r = hostmem_migrate(vm->hm, hva, NULL);

	(void)index;
	(void)arg;
	return r == -EBUSY ? 0 : r;
}

static int age_page(struct smmu_vm *vm, hva_t hva, uint64_t index, void *arg)
{
	uint64_t *bitmap = arg;

	if (hostmem_clear_young(vm->hm, hva, hva + PAGE_SIZE))
		bitmap[index / 64] |= 1ull << (index % 64);
	return 0;
}

int smmu_vm_host_swap(struct smmu_vm *vm, uint64_t gpa, uint64_t size)
{
	return for_each_host_page(vm, gpa, size, swap_page, NULL);
}

int smmu_vm_host_migrate(struct smmu_vm *vm, uint64_t gpa, uint64_t size)
{
	return for_each_host_page(vm, gpa, size, migrate_page, NULL);
}

int smmu_vm_host_age(struct smmu_vm *vm, uint64_t gpa, uint64_t size, uint64_t *bitmap,
                     size_t words)
{
	if (!bitmap || words < ((size >> PAGE_SHIFT) + 63) / 64)
		return -EINVAL;
	memset(bitmap, 0, words * sizeof(*bitmap));
	return for_each_host_page(vm, gpa, size, age_page, bitmap);
}

int smmu_vm_get_slot(struct smmu_vm *vm, unsigned id, uint64_t *gpa, uint64_t *size,
                     unsigned *flags)
{
	struct memslot *s = vm && id < MEMSLOT_ID_LIMIT ? memslots_get(&vm->slots, id) : NULL;

	if (!s)
		return -EINVAL;
	if (gpa)
		*gpa = gfn_to_gpa(s->base_gfn);
	if (size)
		*size = s->npages << PAGE_SHIFT;
	if (flags)
		*flags = ((s->flags & MEMSLOT_READONLY) ? SMMU_SLOT_READONLY : 0) |
		         ((s->flags & MEMSLOT_LOG_DIRTY_PAGES) ? SMMU_SLOT_LOG_DIRTY : 0);
	return 0;
}

int smmu_vm_host_merge(struct smmu_vm *vm, uint64_t gpa1, uint64_t gpa2)
{
	struct memslot *s1, *s2;

	if (!vm || ((gpa1 | gpa2) & ~PAGE_MASK))
		return -EINVAL;
	s1 = memslots_find(&vm->slots, gpa_to_gfn(gpa1));
	s2 = memslots_find(&vm->slots, gpa_to_gfn(gpa2));
	if (!s1 || !s2)
		return -EINVAL;
	return hostmem_merge(vm->hm, memslot_gfn_to_hva(s1, gpa_to_gfn(gpa1)),
	                     memslot_gfn_to_hva(s2, gpa_to_gfn(gpa2)));
}

int smmu_vm_recover_nx_huge_pages(struct smmu_vm *vm, unsigned ratio)
{
	if (!vm || !vm->cfg.nx_huge_pages)
		return -EINVAL;
	return (int)mmu_recover_nx_huge_pages(vm->mmu, ratio);
}

void smmu_vm_zap_all(struct smmu_vm *vm)
{
	mmu_zap_all_fast(vm->mmu);
	install_all_roots(vm);
}

enum gpa_copy_kind { GPA_READ, GPA_WRITE, GPA_PEEK };

static int gpa_copy(struct smmu_vm *vm, uint64_t gpa, void *buf, size_t len,
                    enum gpa_copy_kind kind)
{
	uint8_t *p = buf;

	while (len) {
		size_t chunk = PAGE_SIZE - (gpa & ~PAGE_MASK);
		struct memslot *s = memslots_find(&vm->slots, gpa_to_gfn(gpa));
		hva_t hva;
		int r;

		if (chunk > len)
			chunk = len;
		if (!s)
			return -EFAULT;
		hva = memslot_gfn_to_hva(s, gpa_to_gfn(gpa)) + (gpa & ~PAGE_MASK);
		r = kind == GPA_WRITE  ? hostmem_write(vm->hm, hva, p, chunk)
		    : kind == GPA_READ ? hostmem_read(vm->hm, hva, p, chunk)
		                       : hostmem_peek_read(vm->hm, hva, p, chunk);
		if (r)
			return r;
		gpa += chunk;
		p += chunk;
		len -= chunk;
	}
	return 0;
}

int smmu_vm_read_gpa(struct smmu_vm *vm, uint64_t gpa, void *buf, size_t len)
{
	return gpa_copy(vm, gpa, buf, len, GPA_READ);
}

int smmu_vm_peek_gpa(struct smmu_vm *vm, uint64_t gpa, void *buf, size_t len)
{
	return gpa_copy(vm, gpa, buf, len, GPA_PEEK);
}

int smmu_vm_write_gpa(struct smmu_vm *vm, uint64_t gpa, const void *buf, size_t len)
{
	return gpa_copy(vm, gpa, (void *)buf, len, GPA_WRITE);
}

/* ---- guest operations ------------------------------------------------------ */
static struct smmu_vcpu *get_vcpu(struct smmu_vm *vm, unsigned id)
{
	return vm && id < vm->cfg.nr_vcpus ? &vm->vcpus[id] : NULL;
}

static void fill_outcome(struct smmu_outcome *out, enum vcpu_result r, const struct vcpu_outcome *o)
{
	static const enum smmu_result map[VCPU_NR_RESULTS] = {
		[VCPU_OK] = SMMU_OK,     [VCPU_PF] = SMMU_PF,     [VCPU_GP] = SMMU_GP,
		[VCPU_UD] = SMMU_UD,     [VCPU_MMIO] = SMMU_MMIO, [VCPU_EMUL_FAIL] = SMMU_EMUL_FAIL,
		[VCPU_INVALID] = SMMU_INVALID,
	};

	out->result = (unsigned)r < VCPU_NR_RESULTS ? map[r] : SMMU_INVALID;
	out->value = o ? o->value : 0;
	out->error_code = o ? o->error_code : 0;
}

int smmu_vcpu_read(struct smmu_vm *vm, unsigned vcpu, uint64_t gva, unsigned size,
                   struct smmu_outcome *out)
{
	struct smmu_vcpu *vc = get_vcpu(vm, vcpu);
	struct vcpu_outcome o = {0};

	if (!vc || !out)
		return -EINVAL;
	fill_outcome(out, vcpu_cpu_read(&vc->cpu, gva, size, &o), &o);
	return 0;
}

void smmu_vcpu_prefetch(struct smmu_vm *vm, unsigned vcpu, uint64_t gva)
{
	struct smmu_vcpu *vc = get_vcpu(vm, vcpu);

	if (vc)
		vcpu_cpu_prefetch(&vc->cpu, gva);
}

int smmu_vcpu_write(struct smmu_vm *vm, unsigned vcpu, uint64_t gva, unsigned size,
                    uint64_t value, struct smmu_outcome *out)
{
	struct smmu_vcpu *vc = get_vcpu(vm, vcpu);
	struct vcpu_outcome o = {0};

	if (!vc || !out)
		return -EINVAL;
	fill_outcome(out, vcpu_cpu_write(&vc->cpu, gva, size, value, &o), &o);
	return 0;
}

int smmu_vcpu_fetch(struct smmu_vm *vm, unsigned vcpu, uint64_t gva, struct smmu_outcome *out)
{
	struct smmu_vcpu *vc = get_vcpu(vm, vcpu);
	struct vcpu_outcome o = {0};

	if (!vc || !out)
		return -EINVAL;
	fill_outcome(out, vcpu_cpu_fetch(&vc->cpu, gva, &o), &o);
	return 0;
}

int smmu_vcpu_write_reg(struct smmu_vm *vm, unsigned vcpu, enum smmu_reg reg, uint64_t value,
                        struct smmu_outcome *out)
{
	static const enum vcpu_reg map[] = {VCPU_REG_CR0, VCPU_REG_CR3, VCPU_REG_CR4, VCPU_REG_EFER,
	                                    VCPU_REG_PKRU};
	struct smmu_vcpu *vc = get_vcpu(vm, vcpu);

	if (!vc || !out || (unsigned)reg > SMMU_REG_PKRU)
		return -EINVAL;
	fill_outcome(out, vcpu_cpu_write_reg(&vc->cpu, map[reg], value), NULL);
	return 0;
}

int smmu_vcpu_invlpg(struct smmu_vm *vm, unsigned vcpu, uint64_t gva, struct smmu_outcome *out)
{
	struct smmu_vcpu *vc = get_vcpu(vm, vcpu);

	if (!vc || !out)
		return -EINVAL;
	fill_outcome(out, vcpu_cpu_invlpg(&vc->cpu, gva), NULL);
	return 0;
}

int smmu_vcpu_flush(struct smmu_vm *vm, unsigned vcpu)
{
	struct smmu_vcpu *vc = get_vcpu(vm, vcpu);

	if (!vc)
		return -EINVAL;
	vcpu_cpu_flush(&vc->cpu);
	return 0;
}

int smmu_vcpu_set_cpl(struct smmu_vm *vm, unsigned vcpu, unsigned cpl)
{
	struct smmu_vcpu *vc = get_vcpu(vm, vcpu);

	return vc ? vcpu_cpu_set_cpl(&vc->cpu, cpl) : -EINVAL;
}

int smmu_vcpu_set_ac(struct smmu_vm *vm, unsigned vcpu, bool ac)
{
	struct smmu_vcpu *vc = get_vcpu(vm, vcpu);

	if (!vc)
		return -EINVAL;
	vcpu_cpu_set_ac(&vc->cpu, ac);
	return 0;
}

int smmu_vcpu_get_state(struct smmu_vm *vm, unsigned vcpu, struct smmu_cpu_state *out)
{
	struct smmu_vcpu *vc = get_vcpu(vm, vcpu);

	if (!vc || !out)
		return -EINVAL;
	*out = vc->cpu.state;
	return 0;
}

/* ---- statistics ------------------------------------------------------------- */
static void add_exit_counts(struct smmu_stats *out, const struct vm_exit_counts *x)
{
	out->exits_pf += x->pf;
	out->exits_pte_write += x->pte_write;
	out->exits_mmio += x->mmio;
	out->exits_cr3 += x->cr3;
	out->exits_invlpg += x->invlpg;
}

int smmu_vm_get_stats(struct smmu_vm *vm, struct smmu_stats *out)
{
	struct mmu_stats ms;
	struct mmu_mem_stats mm;
	struct memslot *s;

	if (!vm || !out)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	mmu_get_stats(vm->mmu, &ms);
#define SMMU_COPY_STAT(name) out->name = ms.name;
	SMMU_MMU_STATS(SMMU_COPY_STAT)
#undef SMMU_COPY_STAT
	for (unsigned i = 0; i < vm->cfg.nr_vcpus; i++) {
		const struct vcpu_cpu_stats *cs = &vm->vcpus[i].cpu.stats;

		out->tlb_hits += cs->tlb_hits;
		out->tlb_misses += cs->tlb_misses;
		out->hw_walks += cs->walks;
		out->leaf_handbacks += cs->leaf_handbacks;
		out->cached_walks += cs->cached_walks;
		out->walk_refs += cs->walk_refs;
		if (cs->walk_refs_max > out->walk_refs_max)
			out->walk_refs_max = cs->walk_refs_max;
		out->exits_ept_violation += cs->exits[HWWALK_EPT_VIOLATION];
		out->exits_ept_misconfig += cs->exits[HWWALK_EPT_MISCONFIG];
		for (unsigned e = HWWALK_NO_ROOT; e < HWWALK_NR_EXITS; e++)
			out->mmu_exits += cs->exits[e];
		out->mmio_reads += cs->mmio_reads;
		out->mmio_writes += cs->mmio_writes;
		add_exit_counts(out, &vm->vcpus[i].exits);
	}
	mmu_get_mem_stats(vm->mmu, &mm);
	out->shadow_pages = mm.shadow_pages;
	out->bytes_sp_headers = mm.bytes_sp_headers;
	out->bytes_shadowed = mm.bytes_shadowed;
	out->bytes_rmap_desc = mm.bytes_rmap_desc;
	out->bytes_spt_frames = arena_frames_in_use(vm->arena, ARENA_USE_SHADOW) * PAGE_SIZE;
	out->bytes_guest_frames = arena_frames_in_use(vm->arena, ARENA_USE_GUEST) * PAGE_SIZE;
	out->bytes_memslot_meta = vm->slots.meta_bytes;
	for (unsigned i = 0; (s = memslots_at(&vm->slots, i)); i++)
		out->guest_pages += s->npages;
	return 0;
}

int smmu_vm_audit(struct smmu_vm *vm, char *msg, size_t msglen)
{
	if (!vm)
		return -EINVAL;
	return mmu_check(vm->mmu, msg, msglen);
}

int smmu_vm_write_dot(struct smmu_vm *vm, FILE *out)
{
	if (!vm || !out)
		return -EINVAL;
	return mmu_write_dot(vm->mmu, out);
}

const char *smmu_mmu_mode_name(enum smmu_mmu_mode mode)
{
	switch (mode) {
	case SMMU_MMU_SHADOW:
		return "shadow";
	case SMMU_MMU_TDP:
		return "tdp";
	}
	return NULL;
}

const char *smmu_result_name(enum smmu_result r)
{
	static const char *const names[] = {"ok", "pf", "gp", "ud", "mmio", "emul_fail", "invalid"};

	return (unsigned)r < sizeof(names) / sizeof(names[0]) ? names[r] : "?";
}


const char *smmu_shortcut_name(uint32_t bit)
{
	static const char *const names[SMMU_NR_SHORTCUTS] = {
#define SMMU_SHORTCUT_NAME(e, name, what) [SMMU_SHORTCUT_INDEX_##e] = #name,
		SMMU_SHORTCUT_LIST(SMMU_SHORTCUT_NAME)
#undef SMMU_SHORTCUT_NAME
	};

	if (!bit || (bit & (bit - 1)) || !(bit & SMMU_SHORTCUTS_ALL))
		return NULL;
	return names[__builtin_ctz(bit)];
}
