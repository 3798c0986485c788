/*
 * executor.c - run trace records on a VM and check their expectations
 * (docs/trace-format.md is the authority on what a guest must observe).
 *
 * Invariants: the VM exists iff a non-setup record was run (or exec_vm()
 * asked for it); after the first error `err` is non-zero and sticky, so a
 * caller can never run past a mismatch.  Only the public API is used, so the
 * executor measures the library as any other embedder would see it.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "trace/executor.h"

#include "common.h"

struct executor {
	const char *name;
	struct exec_opts opts;
	struct smmu_vm_config cfg;
	struct smmu_vm *vm;
	struct exec_counts counts;
	int err;
	uint8_t guest_kind[TRACE_NR_KINDS]; /* TRACE_KF_GUEST of each kind, looked up per record */
	char msg[512];
};

void exec_opts_init(struct exec_opts *opts)
{
	memset(opts, 0, sizeof(*opts));
	opts->unsync = true;
	opts->shortcuts = SMMU_SHORTCUTS_ALL;
	opts->mmu = SMMU_MMU_SHADOW;
	opts->ept_ad = true;
}

int exec_create(struct executor **out, const char *name, const struct exec_opts *opts)
{
	struct executor *e = calloc(1, sizeof(*e));

	if (!e)
		return -ENOMEM;
	e->name = name ? name : "trace";
	e->counts.reads_digest = EXEC_FNV_OFFSET;
	e->counts.memory_digest = EXEC_FNV_OFFSET;
	if (opts)
		e->opts = *opts;
	else
		exec_opts_init(&e->opts);
	smmu_vm_config_default(&e->cfg);
	/* A trace's mmu record may still change these (dispatch_other), unless mmu_forced. */
	e->cfg.mmu = e->opts.mmu;
	e->cfg.ept_ad = e->opts.mmu == SMMU_MMU_TDP && e->opts.ept_ad;
	for (unsigned k = 0; k < TRACE_NR_KINDS; k++)
		e->guest_kind[k] = (trace_kind_flags((enum trace_kind)k) & TRACE_KF_GUEST) != 0;
	*out = e;
	return 0;
}

void exec_destroy(struct executor *e)
{
	if (!e)
		return;
	smmu_vm_destroy(e->vm);
	free(e);
}

static int fail(struct executor *e, int err, uint64_t line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Record the first error: "NAME:LINE: message". */
static int fail(struct executor *e, int err, uint64_t line, const char *fmt, ...)
{
	va_list ap;
	int n = snprintf(e->msg, sizeof(e->msg), "%s:%" PRIu64 ": ", e->name, line);

	va_start(ap, fmt);
	if (n > 0 && (size_t)n < sizeof(e->msg))
		vsnprintf(e->msg + n, sizeof(e->msg) - (size_t)n, fmt, ap);
	va_end(ap);
	e->err = err;
	return err;
}

/* The VM takes the configuration the set-up records built, with the run's MMU knobs. */
static NOINLINE int ensure_vm(struct executor *e, uint64_t line)
{
	int ret;

	if (e->vm)
		return 0;
	e->cfg.unsync = e->opts.unsync;
	e->cfg.audit = false; /* the executor audits between records itself */
	if (e->opts.n_max_mmu_pages)
		e->cfg.n_max_mmu_pages = e->opts.n_max_mmu_pages;
	if (e->opts.arena_bytes)
		e->cfg.arena_bytes = e->opts.arena_bytes;
	e->cfg.tlb_sets = e->opts.tlb_sets;
	e->cfg.tlb_ways = e->opts.tlb_ways;
	e->cfg.shortcuts = e->opts.shortcuts;
	e->cfg.huge_backing = e->opts.huge_backing;
	e->cfg.nx_huge_pages = e->opts.nx_huge_pages;
	e->cfg.slot_zap_range = e->opts.slot_zap_range;
	if ((e->cfg.nx_huge_pages || e->cfg.slot_zap_range) && e->cfg.mmu != SMMU_MMU_TDP)
		return fail(e, -EINVAL, line,
		            "NX huge pages need the TDP MMU, so do slot range zaps (mmu tdp, --mmu tdp)");
	ret = smmu_vm_create(&e->cfg, &e->vm);
	if (ret)
		return fail(e, ret == -ENOMEM ? -ENOMEM : -EINVAL, line, "cannot create the VM: %s",
		            strerror(-ret));
	return 0;
}

/* "ok", "pf 0x5", "value 0x12", "mmio (value 0xff)": what the guest observed. */
static void describe_outcome(const struct smmu_outcome *o, bool read, char *buf, size_t len)
{
	switch (o->result) {
	case SMMU_OK:
		if (read)
			snprintf(buf, len, "value 0x%" PRIx64, o->value);
		else
			snprintf(buf, len, "ok");
		break;
	case SMMU_PF:
		snprintf(buf, len, "pf 0x%" PRIx32, o->error_code);
		break;
	case SMMU_MMIO:
		if (read)
			snprintf(buf, len, "mmio (value 0x%" PRIx64 ")", o->value);
		else
			snprintf(buf, len, "mmio (ok)");
		break;
	default:
		snprintf(buf, len, "%s", smmu_result_name(o->result));
		break;
	}
}

static void describe_expect(const struct trace_expect *x, char *buf, size_t len)
{
	switch (x->kind) {
	case TRACE_EXPECT_VALUE:
		snprintf(buf, len, "value 0x%" PRIx64, x->value);
		break;
	case TRACE_EXPECT_OK:
		snprintf(buf, len, "ok");
		break;
	case TRACE_EXPECT_PF:
		snprintf(buf, len, "pf 0x%" PRIx64, x->value);
		break;
	case TRACE_EXPECT_GP:
		snprintf(buf, len, "gp");
		break;
	case TRACE_EXPECT_UD:
		snprintf(buf, len, "ud");
		break;
	default:
		snprintf(buf, len, "(unsupported expectation)");
		break;
	}
}

static bool outcome_matches(const struct trace_expect *x, const struct smmu_outcome *o)
{
	bool done = o->result == SMMU_OK || o->result == SMMU_MMIO;

	switch (x->kind) {
	case TRACE_EXPECT_VALUE:
		return done && o->value == x->value;
	case TRACE_EXPECT_OK:
		return done;
	case TRACE_EXPECT_PF:
		return o->result == SMMU_PF && o->error_code == x->value;
	case TRACE_EXPECT_GP:
		return o->result == SMMU_GP;
	case TRACE_EXPECT_UD:
		return o->result == SMMU_UD;
	default:
		return false;
	}
}

/* The first failed expectation: what was expected, what was observed. */
static NOINLINE int report_mismatch(struct executor *e, const struct trace_record *rec,
                                    const struct smmu_outcome *o)
{
	char want[64], got[64];
	bool read = rec->kind == TRACE_READ || rec->kind == TRACE_FETCH;

	describe_expect(&rec->expect, want, sizeof(want));
	describe_outcome(o, read, got, sizeof(got));
	return fail(e, -EDOM, rec->line, "%s: expected %s, observed %s", trace_kind_name(rec->kind),
	            want, got);
}

static NOINLINE int check_outcome_slow(struct executor *e, const struct trace_record *rec,
                                       const struct smmu_outcome *o)
{
	switch (o->result) {
	case SMMU_OK:
		break;
	case SMMU_MMIO:
		e->counts.mmio++;
		break;
	case SMMU_PF:
		e->counts.pf++;
		e->counts.guest_faults++;
		break;
	case SMMU_GP:
		e->counts.gp++;
		e->counts.guest_faults++;
		break;
	case SMMU_UD:
		e->counts.ud++;
		e->counts.guest_faults++;
		break;
	case SMMU_INVALID:
		return fail(e, -EINVAL, rec->line, "malformed %s: the vCPU refused it as invalid",
		            trace_kind_name(rec->kind));
	default:
		return fail(e, -ENOMEM, rec->line, "%s: the MMU could not complete the access",
		            trace_kind_name(rec->kind));
	}
	if (rec->expect.kind == TRACE_EXPECT_NONE)
		return 0;
	e->counts.expectations++;
	if (likely(outcome_matches(&rec->expect, o)))
		return 0;
	return report_mismatch(e, rec, o);
}

/*
 * Count what the guest saw, refuse API-level errors, then check `=> EXPECT`.
 * Inline: the usual record succeeded and expected just that (or nothing);
 * everything else, counted from scratch, in check_outcome_slow.
 */
static inline int check_outcome(struct executor *e, const struct trace_record *rec,
                                const struct smmu_outcome *o)
{
	const struct trace_expect *x = &rec->expect;

	if (likely(o->result == SMMU_OK)) {
		if (x->kind == TRACE_EXPECT_NONE)
			return 0;
		if (x->kind == TRACE_EXPECT_OK || (x->kind == TRACE_EXPECT_VALUE && o->value == x->value)) {
			e->counts.expectations++;
			return 0;
		}
	}
	return check_outcome_slow(e, rec, o);
}

/* SDM Vol. 3A 3.3.7 / trace-format.md: outside IA-32e mode a linear address is 32 bits. */
static NOINLINE int check_gva(struct executor *e, const struct trace_record *rec, uint64_t gva)
{
	struct smmu_cpu_state s;

	if (gva <= UINT32_MAX)
		return 0;
	if (smmu_vcpu_get_state(e->vm, rec->vcpu, &s))
		return fail(e, -EINVAL, rec->line, "vCPU %" PRIu32 " does not exist", rec->vcpu);
	if (s.efer & X86_EFER_LMA)
		return 0;
	return fail(e, -EINVAL, rec->line,
	            "malformed trace: GVA 0x%" PRIx64 " is wider than 32 bits outside IA-32e mode",
	            gva);
}

/* reads_digest: the result code, then the value (done, MMIO) or the #PF error code. */
static inline void digest_read(struct executor *e, const struct smmu_outcome *o)
{
	uint64_t v = o->result == SMMU_OK || o->result == SMMU_MMIO ? o->value
	             : o->result == SMMU_PF                           ? o->error_code
	                                                              : 0;
	uint64_t h = (e->counts.reads_digest ^ (uint8_t)o->result) * EXEC_FNV_PRIME;

	e->counts.reads_digest = exec_fnv1a_u64(h, v);
}

static int run_access(struct executor *e, const struct trace_record *rec)
{
	struct smmu_outcome o = {0};
	uint64_t gva =
	    rec->kind == TRACE_FETCH || rec->kind == TRACE_INVLPG ? rec->op[0] : rec->op[1];
	int ret;

	switch (rec->kind) {
	case TRACE_READ:
		ret = smmu_vcpu_read(e->vm, rec->vcpu, gva, (unsigned)rec->op[0], &o);
		break;
	case TRACE_WRITE:
		ret = smmu_vcpu_write(e->vm, rec->vcpu, gva, (unsigned)rec->op[0], rec->op[2], &o);
		break;
	case TRACE_FETCH:
		ret = smmu_vcpu_fetch(e->vm, rec->vcpu, gva, &o);
		break;
	default:
		ret = smmu_vcpu_invlpg(e->vm, rec->vcpu, gva, &o);
		break;
	}
	if (ret)
		return fail(e, -EINVAL, rec->line, "%s: %s", trace_kind_name(rec->kind),
		            strerror(-ret));
	/* The vCPU refuses a too-wide gva itself; say why only then (off the hot path). */
	if (unlikely(o.result == SMMU_INVALID) && (ret = check_gva(e, rec, gva)))
		return ret;
	e->counts.guest_accesses += rec->kind != TRACE_INVLPG;
	if (rec->kind == TRACE_READ || rec->kind == TRACE_FETCH)
		digest_read(e, &o);
	return check_outcome(e, rec, &o);
}

static int run_write_reg(struct executor *e, const struct trace_record *rec)
{
	struct smmu_outcome o = {0};
	enum smmu_reg reg = (enum smmu_reg)(SMMU_REG_CR0 + (rec->kind - TRACE_CR0));
	int ret = smmu_vcpu_write_reg(e->vm, rec->vcpu, reg, rec->op[0], &o);

	if (ret)
		return fail(e, -EINVAL, rec->line, "%s: %s", trace_kind_name(rec->kind),
		            strerror(-ret));
	return check_outcome(e, rec, &o);
}

/* Records run by one vCPU. */
static int run_guest(struct executor *e, const struct trace_record *rec)
{
	int ret = 0;

	e->counts.guest_records++;
	switch (rec->kind) {
	case TRACE_CR0:
	case TRACE_CR3:
	case TRACE_CR4:
	case TRACE_EFER:
	case TRACE_PKRU:
		return run_write_reg(e, rec);
	case TRACE_CPL:
		ret = smmu_vcpu_set_cpl(e->vm, rec->vcpu, (unsigned)rec->op[0]);
		break;
	case TRACE_AC:
		ret = smmu_vcpu_set_ac(e->vm, rec->vcpu, rec->op[0] != 0);
		break;
	case TRACE_FLUSH:
		ret = smmu_vcpu_flush(e->vm, rec->vcpu);
		break;
	default:
		return run_access(e, rec);
	}
	if (ret)
		return fail(e, -EINVAL, rec->line, "%s: %s", trace_kind_name(rec->kind),
		            strerror(-ret));
	return 0;
}

static NOINLINE int run_slot(struct executor *e, const struct trace_record *rec)
{
	unsigned flags = 0;
	int ret;

	if (rec->op[3] & TRACE_SLOTF_RO)
		flags |= SMMU_SLOT_READONLY;
	if (rec->op[3] & TRACE_SLOTF_LOG)
		flags |= SMMU_SLOT_LOG_DIRTY;
	if (rec->op[0] > UINT32_MAX)
		return fail(e, -EINVAL, rec->line, "slot ID %" PRIu64 " out of range", rec->op[0]);
	ret = smmu_vm_add_slot(e->vm, (unsigned)rec->op[0], rec->op[1], rec->op[2], flags);
	if (ret == -ENOMEM)
		return fail(e, ret, rec->line, "slot %" PRIu64 ": out of memory", rec->op[0]);
	if (ret)
		return fail(e, -EINVAL, rec->line, "malformed trace: slot %" PRIu64 " refused: %s",
		            rec->op[0],
		            ret == -EEXIST ? "ID in use or overlapping" : strerror(-ret));
	return 0;
}

/* ---- VMM and host records ------------------------------------------------ */

static int vmm_error(struct executor *e, const struct trace_record *rec, int ret)
{
	if (ret == -ENOMEM)
		return fail(e, ret, rec->line, "%s: out of memory", trace_kind_name(rec->kind));
	return fail(e, -EINVAL, rec->line, "malformed trace: %s refused: %s",
	            trace_kind_name(rec->kind), strerror(-ret));
}

static bool bit_set(const uint64_t *map, uint64_t i)
{
	return map[i / 64] & (1ull << (i % 64));
}

static bool in_ranges(const struct trace_expect *x, uint64_t i)
{
	for (size_t r = 0; r < x->nr_ranges; r++)
		if (i >= x->ranges[r].first && i <= x->ranges[r].last)
			return true;
	return false;
}

/* Write a page-index set as the trace format spells it: "1,3-5", or "-". */
static void format_set(const uint64_t *map, uint64_t n, char *buf, size_t len)
{
	size_t used = 0;

	buf[0] = 0;
	for (uint64_t i = 0; i < n && used + 48 < len; i++) {
		uint64_t j = i;

		if (!bit_set(map, i))
			continue;
		while (j + 1 < n && bit_set(map, j + 1))
			j++;
		used += (size_t)snprintf(buf + used, len - used, "%s%" PRIu64, used ? "," : "", i);
		if (j > i)
			used += (size_t)snprintf(buf + used, len - used, "-%" PRIu64, j);
		i = j;
	}
	if (!used)
		snprintf(buf, len, "-");
}

/* Compare an observed page set (n pages) with a `=> LIST` expectation. */
static int check_set(struct executor *e, const struct trace_record *rec, const uint64_t *map,
                     uint64_t n)
{
	char observed[256];
	uint64_t bad = UINT64_MAX;

	if (rec->expect.kind == TRACE_EXPECT_NONE)
		return 0;
	e->counts.expectations++;
	for (uint64_t i = 0; i < n && bad == UINT64_MAX; i++)
		if (bit_set(map, i) != in_ranges(&rec->expect, i))
			bad = i;
	for (size_t r = 0; r < rec->expect.nr_ranges && bad == UINT64_MAX; r++)
		if (rec->expect.ranges[r].last >= n)
			bad = rec->expect.ranges[r].last;
	if (bad == UINT64_MAX)
		return 0;
	format_set(map, n, observed, sizeof(observed));
	return fail(e, -EDOM, rec->line, "%s: page %" PRIu64 " differs: observed {%s}",
	            trace_kind_name(rec->kind), bad, observed);
}

static int run_dirty(struct executor *e, const struct trace_record *rec)
{
	uint64_t size, *map;
	unsigned id = (unsigned)rec->op[0];
	int ret;

	if (rec->op[0] > UINT32_MAX || smmu_vm_get_slot(e->vm, id, NULL, &size, NULL))
		return fail(e, -EINVAL, rec->line, "malformed trace: dirty: no slot %" PRIu64,
		            rec->op[0]);
	map = calloc((size / 4096 + 63) / 64 + 1, sizeof(*map));
	if (!map)
		return fail(e, -ENOMEM, rec->line, "dirty: out of memory");
	ret = smmu_vm_get_dirty_log(e->vm, id, map, (size / 4096 + 63) / 64 + 1);
	if (ret == -ENOENT)
		ret = fail(e, -EINVAL, rec->line, "malformed trace: dirty: slot %u is not logging", id);
	else if (ret)
		ret = vmm_error(e, rec, ret);
	else
		ret = check_set(e, rec, map, size / 4096);
	free(map);
	return ret;
}

static int run_host_age(struct executor *e, const struct trace_record *rec)
{
	uint64_t pages = rec->op[1] / 4096, *map = calloc(pages / 64 + 1, sizeof(*map));
	int ret;

	if (!map)
		return fail(e, -ENOMEM, rec->line, "host age: out of memory");
	ret = smmu_vm_host_age(e->vm, rec->op[0], rec->op[1], map, pages / 64 + 1);
	ret = ret ? vmm_error(e, rec, ret) : check_set(e, rec, map, pages);
	free(map);
	return ret;
}

static int run_slot_log(struct executor *e, const struct trace_record *rec)
{
	unsigned id = (unsigned)rec->op[0], flags;
	int ret;

	if (rec->op[0] > UINT32_MAX || smmu_vm_get_slot(e->vm, id, NULL, NULL, &flags))
		return fail(e, -EINVAL, rec->line, "malformed trace: slot log: no slot %" PRIu64,
		            rec->op[0]);
	flags = rec->op[1] ? flags | SMMU_SLOT_LOG_DIRTY : flags & ~SMMU_SLOT_LOG_DIRTY;
	ret = smmu_vm_set_slot_flags(e->vm, id, flags);
	return ret ? vmm_error(e, rec, ret) : 0;
}

static NOINLINE int run_vmm(struct executor *e, const struct trace_record *rec)
{
	int ret = 0;

	switch (rec->kind) {
	case TRACE_SLOT_DEL:
		ret = rec->op[0] > UINT32_MAX ? -EINVAL : smmu_vm_delete_slot(e->vm, (unsigned)rec->op[0]);
		break;
	case TRACE_SLOT_MOVE:
		ret = rec->op[0] > UINT32_MAX ? -EINVAL
		                              : smmu_vm_move_slot(e->vm, (unsigned)rec->op[0], rec->op[1]);
		break;
	case TRACE_SLOT_LOG:
		return run_slot_log(e, rec);
	case TRACE_DIRTY:
		return run_dirty(e, rec);
	case TRACE_HOST_SWAP:
		ret = smmu_vm_host_swap(e->vm, rec->op[0], rec->op[1]);
		break;
	case TRACE_HOST_MIGRATE:
		ret = smmu_vm_host_migrate(e->vm, rec->op[0], rec->op[1]);
		break;
	case TRACE_HOST_AGE:
		return run_host_age(e, rec);
	case TRACE_HOST_MERGE:
		/* Pages never touched or huge-backed are simply not merged, as KSM skips them. */
		ret = smmu_vm_host_merge(e->vm, rec->op[0], rec->op[1]);
		ret = ret == -EBUSY ? 0 : ret;
		break;
	default:
		return fail(e, -EINVAL, rec->line, "%s is not supported yet",
		            trace_kind_name(rec->kind) ? trace_kind_name(rec->kind) : "record");
	}
	return ret ? vmm_error(e, rec, ret) : 0;
}

/* Everything but guest records on a running VM: set-up, slots, VMM and host records. */
static NOINLINE int dispatch_other(struct executor *e, const struct trace_record *rec)
{
	unsigned kf = trace_kind_flags(rec->kind);

	if (rec->kind == TRACE_HEADER)
		return 0;
	if (rec->kind == TRACE_VCPUS && !e->vm) {
		e->cfg.nr_vcpus = (unsigned)rec->op[0];
		return 0;
	}
	if (rec->kind == TRACE_CPU && !e->vm) {
		trace_cpu_apply(rec, &e->cfg.model);
		return 0;
	}
	if (rec->kind == TRACE_MMU && !e->vm) {
		/* The trace's choice, unless the run asked for an MMU itself (--mmu). */
		if (!e->opts.mmu_forced) {
			e->cfg.mmu = rec->op[0] == TRACE_MMU_TDP ? SMMU_MMU_TDP : SMMU_MMU_SHADOW;
			e->cfg.ept_ad = rec->op[1] && e->opts.ept_ad;
		}
		return 0;
	}
	if (kf & TRACE_KF_SETUP)
		return fail(e, -EINVAL, rec->line, "%s after the VM started",
		            trace_kind_name(rec->kind));
	if (ensure_vm(e, rec->line))
		return e->err;
	if (kf & TRACE_KF_GUEST)
		return run_guest(e, rec);
	switch (rec->kind) {
	case TRACE_SLOT:
		return run_slot(e, rec);
	case TRACE_ZAPALL:
		smmu_vm_zap_all(e->vm);
		return 0;
	default:
		return run_vmm(e, rec);
	}
}

static int dispatch(struct executor *e, const struct trace_record *rec)
{
	/* Most records are guest records on a running VM: straight there. */
	if (likely(e->vm) && (unsigned)rec->kind < TRACE_NR_KINDS && e->guest_kind[rec->kind])
		return run_guest(e, rec);
	return dispatch_other(e, rec);
}

static NOINLINE int audit(struct executor *e, const struct trace_record *rec)
{
	char msg[256] = "";

	if (!e->vm || !smmu_vm_audit(e->vm, msg, sizeof(msg)))
		return 0;
	return fail(e, -EUCLEAN, rec->line, "MMU audit failed after %s: %s",
	            trace_kind_name(rec->kind), msg);
}

/* exec_record(), inlined into the run loops. */
static inline int exec_one(struct executor *e, const struct trace_record *rec)
{
	int ret;

	if (unlikely(e->err))
		return e->err;
	e->counts.records++;
	ret = dispatch(e, rec);
	if (unlikely(e->opts.audit) && !ret)
		ret = audit(e, rec);
	return ret;
}

int exec_record(struct executor *e, const struct trace_record *rec)
{
	return exec_one(e, rec);
}

/* For a guest access, the vCPU starts loading what it will touch (smmu_vcpu_prefetch). */
static inline void hint(const struct executor *e, const struct trace_record *rec)
{
	if (rec->kind == TRACE_READ || rec->kind == TRACE_WRITE)
		smmu_vcpu_prefetch(e->vm, rec->vcpu, rec->op[1]);
}

/*
 * Records read but not yet run: exec_run() reads EXEC_LOOKAHEAD records
 * ahead and hints each one as it arrives, so that a guest access's memory
 * is on its way by the time it runs (bigmem-like traces run ~1.3-2x faster:
 * docs/workloads.md).  A record whose expectation lists ranges keeps them
 * in the reader's storage, valid only until the next read, so reading ahead
 * pauses behind it until it has run.
 */
#define EXEC_LOOKAHEAD 8 /* a power of two; 4-16 measure the same */

struct lookahead {
	struct trace_record rec[EXEC_LOOKAHEAD];
	unsigned head, n;
	int rd; /* the last trace_read() result: 1 while there may be more */
};

static bool lookahead_may_read(const struct lookahead *la)
{
	const struct trace_record *newest;

	if (la->rd != 1 || la->n == EXEC_LOOKAHEAD)
		return false;
	if (!la->n)
		return true;
	newest = &la->rec[(la->head + la->n - 1) % EXEC_LOOKAHEAD];
	return newest->expect.kind != TRACE_EXPECT_LIST;
}

static void lookahead_fill(struct executor *e, struct lookahead *la, struct trace_reader *r)
{
	while (lookahead_may_read(la)) {
		struct trace_record *rec = &la->rec[(la->head + la->n) % EXEC_LOOKAHEAD];

		la->rd = trace_read(r, rec);
		if (la->rd != 1)
			return;
		hint(e, rec);
		la->n++;
	}
}

int exec_records(struct executor *e, const struct trace_record *recs, size_t n)
{
	int ret = 0;

	for (size_t i = 0; i < n && !ret; i++) {
		if (i + EXEC_LOOKAHEAD < n)
			hint(e, &recs[i + EXEC_LOOKAHEAD]);
		ret = exec_one(e, &recs[i]);
	}
	return ret;
}

int exec_run(struct executor *e, struct trace_reader *r)
{
	struct lookahead la = {.rd = 1};
	double start = smmu_now_seconds();
	int ret = 0;

	for (;;) {
		lookahead_fill(e, &la, r);
		if (!la.n)
			break;
		ret = exec_one(e, &la.rec[la.head]);
		la.head = (la.head + 1) % EXEC_LOOKAHEAD;
		la.n--;
		if (ret)
			break;
	}
	/* A reader error counts once every record before it has run. */
	if (!ret && la.rd < 0)
		ret = la.rd;
	if (ret < 0 && !e->err) {
		const char *why = trace_reader_error(r);

		if (why)
			snprintf(e->msg, sizeof(e->msg), "%s", why);
		else
			snprintf(e->msg, sizeof(e->msg), "%s: %s", e->name, strerror(-ret));
		e->err = ret;
	}
	e->counts.seconds += smmu_now_seconds() - start;
	return ret < 0 ? ret : 0;
}

int exec_open_reader(struct trace_reader **rp, FILE *f, const char *name)
{
	struct trace_reader_opts ro;

	trace_reader_opts_init(&ro);
	ro.allow_host_records = true;
	return trace_reader_open_file(rp, f, name, &ro);
}

/* ---- the final memory's digest -------------------------------------------- */
#define DIGEST_CHUNK (64u << 10) /* bytes per smmu_vm_read_gpa call */
#define DIGEST_SLOTS 1024u       /* slot IDs tried: the memslot layer's ID limit */

#define DIGEST_PAGE_WORDS 512u  /* 64-bit words in a 4 KiB page */

static bool page_is_zero(const uint64_t *w)
{
	uint64_t any = 0;

	for (unsigned i = 0; i < DIGEST_PAGE_WORDS; i++)
		any |= w[i];
	return !any;
}

/* A non-zero page: its gpa, then its words (little-endian on x86 hosts). */
static uint64_t digest_page(uint64_t h, uint64_t gpa, const uint64_t *w)
{
	h = exec_fnv1a_u64(h, gpa);
	for (unsigned i = 0; i < DIGEST_PAGE_WORDS; i++)
		h = (h ^ w[i]) * EXEC_FNV_PRIME;
	return h;
}

static int digest_slot(struct smmu_vm *vm, uint64_t gpa, uint64_t size, uint64_t *buf,
                       uint64_t *h)
{
	for (uint64_t off = 0; off < size; off += DIGEST_CHUNK) {
		size_t n = size - off < DIGEST_CHUNK ? (size_t)(size - off) : DIGEST_CHUNK;
		int ret = smmu_vm_peek_gpa(vm, gpa + off, buf, n);

		if (ret)
			return ret;
		/* Slots are whole pages. */
		for (size_t p = 0; p < n / 4096; p++)
			if (!page_is_zero(buf + p * DIGEST_PAGE_WORDS))
				*h = digest_page(*h, gpa + off + p * 4096, buf + p * DIGEST_PAGE_WORDS);
	}
	return 0;
}

int exec_memory_digest(struct executor *e, uint64_t *out)
{
	struct smmu_vm *vm = exec_vm(e);
	uint64_t h = EXEC_FNV_OFFSET, gpa, size, *buf;
	int ret = 0;

	if (!vm)
		return -ENOMEM;
	buf = malloc(DIGEST_CHUNK);
	if (!buf)
		return -ENOMEM;
	for (unsigned id = 0; id < DIGEST_SLOTS && !ret; id++) {
		if (smmu_vm_get_slot(vm, id, &gpa, &size, NULL))
			continue;
		h = exec_fnv1a_u64(exec_fnv1a_u64(exec_fnv1a_u64(h, id), gpa), size);
		ret = digest_slot(vm, gpa, size, buf, &h);
	}
	free(buf);
	if (!ret) {
		e->counts.memory_digest = h;
		if (out)
			*out = h;
	}
	return ret;
}

const char *exec_message(const struct executor *e)
{
	return e->msg;
}

const struct exec_counts *exec_counts(const struct executor *e)
{
	return &e->counts;
}

const struct smmu_vm_config *exec_config(const struct executor *e)
{
	return &e->cfg;
}

struct smmu_vm *exec_vm(struct executor *e)
{
	if (!e->vm && !e->err)
		ensure_vm(e, 0);
	return e->vm;
}
