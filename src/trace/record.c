/*
 * record.c - the record kinds of trace format version 1 and the static rules
 * every reader applies to a record before returning it.
 *
 * Static rules are those a trace breaks whatever state the machine is in
 * (docs/trace-format.md): the header first, set-up records (vcpus, cpu)
 * before any guest record, @N below the vCPU count, cpu names and ranges,
 * slot GPA/SIZE 4 KiB aligned and nonzero, access size 1/2/4/8 within one
 * 4 KiB page, a write value (or expected read value) that fits the size,
 * cpl 0|3, ac 0|1, and which `=> EXPECT` each record allows.  Anything that
 * depends on the run (paging mode, canonical addresses, overlapping slots,
 * existing slot IDs) is left to the executor and the memslot layer.
 *
 * Reader-chosen limits, documented in docs/trace-format.md: at most
 * TRACE_MAX_VCPUS vCPUs, one vcpus record, a #PF error code within bits 5:0
 * (P, W/R, U/S, RSVD, I/D, PK: the bits the format defines), and the host
 * records' GPA/SIZE 4 KiB aligned like a slot's (they act on whole pages).
 */
#include "trace/trace_impl.h"

#include "common.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#define X(k)    (1u << TRACE_EXPECT_##k)
#define EXP_CR  (X(OK) | X(GP))
#define EXP_MEM (X(OK) | X(PF) | X(GP))

const struct trace_kind_info trace_kinds[TRACE_NR_KINDS] = {
    [TRACE_HEADER] = {"shadowmmu-trace", {"VERSION"}, {TOP_DEC}, 1, 0, 0},
    [TRACE_VCPUS] = {"vcpus", {"N"}, {TOP_DEC}, 1, TRACE_KF_SETUP, 0},
    [TRACE_CPU] = {"cpu", {"NAME=VALUE"}, {TOP_DEC, TOP_DEC, TOP_DEC}, 3, TRACE_KF_SETUP, 0},
    [TRACE_MMU] = {"mmu", {"shadow|tdp", "ept_ad=0|1"}, {TOP_DEC, TOP_DEC}, 2, TRACE_KF_SETUP, 0},
    [TRACE_SLOT] =
        {"slot", {"ID", "GPA", "SIZE", "flags"}, {TOP_DEC, TOP_GPA, TOP_BYTES, TOP_SLOTF}, 4, 0, 0},
    [TRACE_CR0] = {"cr0", {"V"}, {TOP_HEX}, 1, TRACE_KF_GUEST, EXP_CR},
    [TRACE_CR3] = {"cr3", {"V"}, {TOP_HEX}, 1, TRACE_KF_GUEST, EXP_CR},
    [TRACE_CR4] = {"cr4", {"V"}, {TOP_HEX}, 1, TRACE_KF_GUEST, EXP_CR},
    [TRACE_EFER] = {"efer", {"V"}, {TOP_HEX}, 1, TRACE_KF_GUEST, EXP_CR},
    [TRACE_PKRU] = {"pkru", {"V"}, {TOP_HEX}, 1, TRACE_KF_GUEST, EXP_CR | X(UD)},
    [TRACE_CPL] = {"cpl", {"0|3"}, {TOP_DEC}, 1, TRACE_KF_GUEST, 0},
    [TRACE_AC] = {"ac", {"0|1"}, {TOP_DEC}, 1, TRACE_KF_GUEST, 0},
    [TRACE_READ] =
        {"r", {"SIZE", "GVA"}, {TOP_DEC, TOP_GVA}, 2, TRACE_KF_GUEST, EXP_MEM | X(VALUE)},
    [TRACE_WRITE] =
        {"w", {"SIZE", "GVA", "VALUE"}, {TOP_DEC, TOP_GVA, TOP_VAL}, 3, TRACE_KF_GUEST, EXP_MEM},
    [TRACE_FETCH] = {"x", {"GVA"}, {TOP_GVA}, 1, TRACE_KF_GUEST, EXP_MEM},
    [TRACE_INVLPG] = {"invlpg", {"GVA"}, {TOP_GVA}, 1, TRACE_KF_GUEST, X(OK) | X(GP)},
    [TRACE_FLUSH] = {"flush", {NULL}, {0}, 0, TRACE_KF_GUEST, 0},
    [TRACE_SLOT_DEL] = {"slot del", {"ID"}, {TOP_DEC}, 1, TRACE_KF_VMM | TRACE_KF_HOST, 0},
    [TRACE_SLOT_MOVE] =
        {"slot move", {"ID", "GPA"}, {TOP_DEC, TOP_GPA}, 2, TRACE_KF_VMM | TRACE_KF_HOST, 0},
    [TRACE_SLOT_LOG] =
        {"slot log", {"ID", "on|off"}, {TOP_DEC, TOP_ONOFF}, 2, TRACE_KF_VMM | TRACE_KF_HOST, 0},
    [TRACE_DIRTY] = {"dirty", {"ID"}, {TOP_DEC}, 1, TRACE_KF_VMM | TRACE_KF_HOST, X(LIST)},
    [TRACE_HOST_SWAP] =
        {"host swap", {"GPA", "SIZE"}, {TOP_GPA, TOP_BYTES}, 2, TRACE_KF_VMM | TRACE_KF_HOST, 0},
    [TRACE_HOST_MIGRATE] =
        {"host migrate", {"GPA", "SIZE"}, {TOP_GPA, TOP_BYTES}, 2, TRACE_KF_VMM | TRACE_KF_HOST, 0},
    [TRACE_HOST_MERGE] =
        {"host merge", {"GPA1", "GPA2"}, {TOP_GPA, TOP_GPA}, 2, TRACE_KF_VMM | TRACE_KF_HOST, 0},
    [TRACE_HOST_AGE] = {"host age",
                        {"GPA", "SIZE"},
                        {TOP_GPA, TOP_BYTES},
                        2,
                        TRACE_KF_VMM | TRACE_KF_HOST,
                        X(LIST)},
    [TRACE_ZAPALL] = {"zapall", {NULL}, {0}, 0, TRACE_KF_VMM, 0},
};

const char *const trace_cpu_names[TRACE_CPU_NR_FEATURES] = {
    [TRACE_CPU_MAXPHYADDR] = "maxphyaddr",
    [TRACE_CPU_GBPAGES] = "gbpages",
    [TRACE_CPU_LA57] = "la57",
    [TRACE_CPU_PCID] = "pcid",
    [TRACE_CPU_PKU] = "pku",
    [TRACE_CPU_SMEP] = "smep",
    [TRACE_CPU_SMAP] = "smap",
    [TRACE_CPU_NX] = "nx",
    [TRACE_CPU_PSE36] = "pse36",
};

const char *const trace_expect_names[TRACE_NR_EXPECTS] = {
    [TRACE_EXPECT_NONE] = "none", [TRACE_EXPECT_VALUE] = "VALUE", [TRACE_EXPECT_OK] = "ok",
    [TRACE_EXPECT_PF] = "pf EC",  [TRACE_EXPECT_GP] = "gp",       [TRACE_EXPECT_UD] = "ud",
    [TRACE_EXPECT_LIST] = "LIST",
};

#define CPU_ALL_FEATURES  ((1u << TRACE_CPU_NR_FEATURES) - 1)
#define CPU_BOOL_FEATURES (CPU_ALL_FEATURES & ~(1u << TRACE_CPU_MAXPHYADDR))
#define PFEC_DEFINED      0x3full /* P W U RSVD I PK: SDM Vol. 3A 4.7 */

const char *trace_kind_name(enum trace_kind kind)
{
	return (unsigned)kind < TRACE_NR_KINDS ? trace_kinds[kind].name : NULL;
}

unsigned trace_kind_flags(enum trace_kind kind)
{
	return (unsigned)kind < TRACE_NR_KINDS ? trace_kinds[kind].flags : 0;
}

unsigned trace_kind_expects(enum trace_kind kind)
{
	return (unsigned)kind < TRACE_NR_KINDS ? trace_kinds[kind].expects : 0;
}

bool trace_record_is_host(const struct trace_record *rec)
{
	if (trace_kind_flags(rec->kind) & TRACE_KF_HOST)
		return true;
	return rec->kind == TRACE_SLOT && (rec->op[3] & TRACE_SLOTF_LOG);
}

void trace_cpu_apply(const struct trace_record *rec, struct smmu_cpu_model *m)
{
	bool *flag[TRACE_CPU_NR_FEATURES] = {
	    [TRACE_CPU_GBPAGES] = &m->gbpages, [TRACE_CPU_LA57] = &m->la57,
	    [TRACE_CPU_PCID] = &m->pcid,       [TRACE_CPU_PKU] = &m->pku,
	    [TRACE_CPU_SMEP] = &m->smep,       [TRACE_CPU_SMAP] = &m->smap,
	    [TRACE_CPU_NX] = &m->nx,           [TRACE_CPU_PSE36] = &m->pse36,
	};

	if (rec->op[0] & (1u << TRACE_CPU_MAXPHYADDR))
		m->maxphyaddr = (unsigned)rec->op[2];
	for (unsigned i = TRACE_CPU_GBPAGES; i < TRACE_CPU_NR_FEATURES; i++)
		if (rec->op[0] & (1u << i))
			*flag[i] = (rec->op[1] >> i) & 1;
}

/* ---- lists --------------------------------------------------------------- */
static int range_cmp(const void *a, const void *b)
{
	const struct trace_range *x = a, *y = b;

	return x->first < y->first ? -1 : x->first > y->first;
}

size_t trace_ranges_normalize(struct trace_range *rg, size_t nr)
{
	size_t out = 0;

	if (nr == 0)
		return 0;
	if (!trace_ranges_normal(rg, nr))
		qsort(rg, nr, sizeof(*rg), range_cmp);
	for (size_t i = 1; i < nr; i++) {
		/* Merge overlapping and adjacent ranges (last + 1 may wrap at 2^64 - 1). */
		if (rg[out].last == UINT64_MAX || rg[i].first <= rg[out].last + 1) {
			if (rg[i].last > rg[out].last)
				rg[out].last = rg[i].last;
		} else {
			rg[++out] = rg[i];
		}
	}
	return out + 1;
}

bool trace_ranges_normal(const struct trace_range *rg, size_t nr)
{
	for (size_t i = 0; i < nr; i++) {
		if (rg[i].first > rg[i].last)
			return false;
		if (i > 0 && (rg[i - 1].last == UINT64_MAX || rg[i].first <= rg[i - 1].last + 1))
			return false;
	}
	return true;
}

/* ---- the checker --------------------------------------------------------- */
static int fault(struct trace_fault *f, int at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fault(struct trace_fault *f, int at, const char *fmt, ...)
{
	va_list ap;

	f->at = at;
	va_start(ap, fmt);
	vsnprintf(f->msg, sizeof(f->msg), fmt, ap);
	va_end(ap);
	return -EINVAL;
}

void trace_check_init(struct trace_check *c, const struct trace_reader_opts *opts)
{
	*c = (struct trace_check){.allow_host = opts->allow_host_records, .vcpus = 1};
}

static bool is_page_aligned(uint64_t v)
{
	return (v & (TRACE_PAGE_SIZE - 1)) == 0;
}

static bool fits_in_bytes(uint64_t v, uint64_t size)
{
	return size >= 8 || (v >> (size * 8)) == 0;
}

/* Record order: the header first and once, set-up records before guest records. */
static int check_order(const struct trace_check *c, const struct trace_record *rec,
                       struct trace_fault *f)
{
	const char *name = trace_kinds[rec->kind].name;

	if (c->records == 0 && rec->kind != TRACE_HEADER)
		return fault(f, TRACE_AT_NAME,
		             "expected 'shadowmmu-trace 1' as the first record, found '%s'", name);
	if (c->records > 0 && rec->kind == TRACE_HEADER)
		return fault(f, TRACE_AT_NAME, "'shadowmmu-trace' header repeated");
	if ((trace_kinds[rec->kind].flags & TRACE_KF_SETUP) && c->guest_seen)
		return fault(f, TRACE_AT_NAME,
		             "set-up record '%s' must come before any guest record (the first was "
		             "at line %llu)",
		             name, (unsigned long long)c->guest_line);
	if (rec->kind == TRACE_VCPUS && c->vcpus_line)
		return fault(f, TRACE_AT_NAME, "'vcpus' given twice (first at line %llu)",
		             (unsigned long long)c->vcpus_line);
	if (rec->kind == TRACE_MMU && c->mmu_line)
		return fault(f, TRACE_AT_NAME, "'mmu' given twice (first at line %llu)",
		             (unsigned long long)c->mmu_line);
	if (!c->allow_host && trace_record_is_host(rec))
		return fault(
		    f, rec->kind == TRACE_SLOT ? 3 : TRACE_AT_NAME,
		    "%s '%s' is not supported yet (reader option allow_host_records is off)",
		    rec->kind == TRACE_SLOT ? "dirty logging on" : "host record", name);
	return 0;
}

static int check_vcpu(const struct trace_check *c, const struct trace_record *rec,
                      struct trace_fault *f)
{
	if (rec->kind == TRACE_HEADER && rec->vcpu != 0)
		return fault(f, TRACE_AT_VCPU, "the header takes no @N prefix");
	if (rec->vcpu < c->vcpus)
		return 0;
	if (c->vcpus_line)
		return fault(f, TRACE_AT_VCPU, "vCPU %u out of range: 'vcpus %u' at line %llu",
		             rec->vcpu, c->vcpus, (unsigned long long)c->vcpus_line);
	return fault(f, TRACE_AT_VCPU,
	             "vCPU %u out of range: the trace has 1 vCPU (no 'vcpus' record)", rec->vcpu);
}

static int check_cpu(const struct trace_record *rec, struct trace_fault *f)
{
	uint64_t set = rec->op[0], on = rec->op[1], maxpa = rec->op[2];

	if (set == 0 || (set & ~(uint64_t)CPU_ALL_FEATURES))
		return fault(f, 0, "bad cpu feature set 0x%llx", (unsigned long long)set);
	if (on & ~(set & CPU_BOOL_FEATURES))
		return fault(f, 1, "cpu feature values 0x%llx name features not set",
		             (unsigned long long)on);
	if (!(set & (1u << TRACE_CPU_MAXPHYADDR)))
		return maxpa == 0 ? 0 : fault(f, 2, "maxphyaddr value without the feature");
	if (maxpa < 32 || maxpa > 52)
		return fault(f, 2, "maxphyaddr must be 32..52, found %llu",
		             (unsigned long long)maxpa);
	return 0;
}

/* A guest-physical range [gpa, gpa + size): 4 KiB aligned, nonzero, below 2^64. */
static int check_gpa_range(const struct trace_record *rec, int gpa_op, struct trace_fault *f)
{
	uint64_t gpa = rec->op[gpa_op], size = rec->op[gpa_op + 1];

	if (!is_page_aligned(gpa))
		return fault(f, gpa_op, "GPA 0x%llx is not 4 KiB aligned", (unsigned long long)gpa);
	if (size == 0 || !is_page_aligned(size))
		return fault(f, gpa_op + 1, "SIZE 0x%llx is not a nonzero multiple of 4 KiB",
		             (unsigned long long)size);
	if (gpa + size - 1 < gpa)
		return fault(f, gpa_op + 1,
		             "range 0x%llx + 0x%llx passes the end of the address space",
		             (unsigned long long)gpa, (unsigned long long)size);
	return 0;
}

static int check_aligned(const struct trace_record *rec, int op, struct trace_fault *f)
{
	if (is_page_aligned(rec->op[op]))
		return 0;
	return fault(f, op, "%s 0x%llx is not 4 KiB aligned", trace_kinds[rec->kind].opname[op],
	             (unsigned long long)rec->op[op]);
}

/* r/w: SIZE in {1, 2, 4, 8}, [GVA, GVA + SIZE) within one 4 KiB page. */
static int check_access(const struct trace_record *rec, struct trace_fault *f)
{
	uint64_t size = rec->op[0], gva = rec->op[1];

	if (size != 1 && size != 2 && size != 4 && size != 8)
		return fault(f, 0, "access size must be 1, 2, 4 or 8, found %llu",
		             (unsigned long long)size);
	if ((gva & (TRACE_PAGE_SIZE - 1)) + size > TRACE_PAGE_SIZE)
		return fault(f, 1, "%llu-byte access at 0x%llx crosses a 4 KiB page boundary",
		             (unsigned long long)size, (unsigned long long)gva);
	if (rec->kind == TRACE_WRITE && !fits_in_bytes(rec->op[2], size))
		return fault(f, 2, "value 0x%llx does not fit in %llu bytes",
		             (unsigned long long)rec->op[2], (unsigned long long)size);
	return 0;
}

static int check_choice(const struct trace_record *rec, int op, uint64_t a, uint64_t b,
                        struct trace_fault *f)
{
	if (rec->op[op] == a || rec->op[op] == b)
		return 0;
	return fault(f, op, "'%s' takes %llu or %llu, found %llu", trace_kinds[rec->kind].name,
	             (unsigned long long)a, (unsigned long long)b, (unsigned long long)rec->op[op]);
}

static int check_operands(const struct trace_check *c, const struct trace_record *rec,
                          struct trace_fault *f)
{
	switch (rec->kind) {
	case TRACE_HEADER:
		if (rec->op[0] != TRACE_VERSION)
			return fault(f, 0,
			             "unsupported trace version %llu (this reader reads version 1)",
			             (unsigned long long)rec->op[0]);
		return 0;
	case TRACE_VCPUS:
		if (rec->op[0] < 1 || rec->op[0] > TRACE_MAX_VCPUS)
			return fault(f, 0, "vcpus must be 1..%u, found %llu", TRACE_MAX_VCPUS,
			             (unsigned long long)rec->op[0]);
		return 0;
	case TRACE_CPU:
		return check_cpu(rec, f);
	case TRACE_MMU:
		if (rec->op[0] > TRACE_MMU_TDP)
			return fault(f, 0, "unknown MMU %llu", (unsigned long long)rec->op[0]);
		if (rec->op[1] > 1 || (rec->op[1] && rec->op[0] != TRACE_MMU_TDP))
			return fault(f, 1, "ept_ad is 0 or 1, and only for mmu tdp");
		return 0;
	case TRACE_SLOT:
		if (rec->op[3] & ~(uint64_t)(TRACE_SLOTF_RO | TRACE_SLOTF_LOG))
			return fault(f, 3, "bad slot flags 0x%llx", (unsigned long long)rec->op[3]);
		return check_gpa_range(rec, 1, f);
	case TRACE_CPL:
		return check_choice(rec, 0, 0, 3, f);
	case TRACE_AC:
		return check_choice(rec, 0, 0, 1, f);
	case TRACE_READ:
	case TRACE_WRITE:
		return check_access(rec, f);
	case TRACE_SLOT_MOVE:
		return check_aligned(rec, 1, f);
	case TRACE_SLOT_LOG:
		return check_choice(rec, 1, 0, 1, f);
	case TRACE_HOST_SWAP:
	case TRACE_HOST_MIGRATE:
	case TRACE_HOST_AGE:
		return check_gpa_range(rec, 0, f);
	case TRACE_HOST_MERGE:
		if (check_aligned(rec, 0, f))
			return -EINVAL;
		return check_aligned(rec, 1, f);
	default:
		(void)c;
		return 0;
	}
}

/* Name the accepted expectations: "ok, pf EC or gp". */
static void describe_expects(unsigned mask, char *buf, size_t len)
{
	size_t n = 0;
	unsigned left = (unsigned)__builtin_popcount(mask);

	buf[0] = 0;
	for (unsigned k = 0; k < TRACE_NR_EXPECTS && n < len; k++) {
		if (!(mask & (1u << k)))
			continue;
		left--;
		n += (size_t)snprintf(buf + n, len - n, "%s%s", trace_expect_names[k],
		                      left == 0   ? ""
		                      : left == 1 ? " or "
		                                  : ", ");
	}
}

static int check_expect(const struct trace_record *rec, struct trace_fault *f)
{
	const struct trace_expect *e = &rec->expect;
	unsigned allowed = trace_kinds[rec->kind].expects;
	char what[64];

	if (e->kind == TRACE_EXPECT_NONE)
		return 0;
	if (allowed == 0)
		return fault(f, TRACE_AT_EXPECT, "'%s' takes no expectation",
		             trace_kinds[rec->kind].name);
	if ((unsigned)e->kind >= TRACE_NR_EXPECTS || !(allowed & (1u << e->kind))) {
		describe_expects(allowed, what, sizeof(what));
		return fault(f, TRACE_AT_EXPECT, "'%s' expects %s", trace_kinds[rec->kind].name,
		             what);
	}
	if (e->kind == TRACE_EXPECT_PF && (e->value & ~PFEC_DEFINED))
		return fault(f, TRACE_AT_EXPECT,
		             "page-fault error code 0x%llx has bits outside P|W|U|RSVD|I|PK (0x3f)",
		             (unsigned long long)e->value);
	if (e->kind == TRACE_EXPECT_VALUE && !fits_in_bytes(e->value, rec->op[0]))
		return fault(f, TRACE_AT_EXPECT, "expected value 0x%llx does not fit in %llu bytes",
		             (unsigned long long)e->value, (unsigned long long)rec->op[0]);
	if (e->kind == TRACE_EXPECT_LIST && !trace_ranges_normal(e->ranges, e->nr_ranges))
		return fault(f, TRACE_AT_EXPECT, "page list is not sorted and disjoint");
	return 0;
}

int trace_check_record(struct trace_check *c, const struct trace_record *rec, struct trace_fault *f)
{
	int err;

	if ((unsigned)rec->kind >= TRACE_NR_KINDS)
		return fault(f, TRACE_AT_NAME, "unknown record kind %u", (unsigned)rec->kind);
	/*
	 * The steady state: a guest record after the first one, on a vCPU in
	 * range.  check_order and check_vcpu have nothing to say about it (no
	 * header, set-up or host record; the vCPU count is settled), so only
	 * its operands and expectation are checked.
	 */
	if (!likely(c->guest_seen && rec->vcpu < c->vcpus &&
	            (trace_kinds[rec->kind].flags & (TRACE_KF_GUEST | TRACE_KF_SETUP | TRACE_KF_HOST)) ==
	                TRACE_KF_GUEST)) {
		err = check_order(c, rec, f);
		if (!err)
			err = check_vcpu(c, rec, f);
		if (err)
			return err;
	}
	err = check_operands(c, rec, f);
	if (!err)
		err = check_expect(rec, f);
	if (err)
		return err;
	c->records++;
	if (rec->kind == TRACE_VCPUS) {
		c->vcpus = (uint32_t)rec->op[0];
		c->vcpus_line = rec->line ? rec->line : 1;
	}
	if (rec->kind == TRACE_MMU)
		c->mmu_line = rec->line ? rec->line : 1;
	if ((trace_kinds[rec->kind].flags & TRACE_KF_GUEST) && !c->guest_seen) {
		c->guest_seen = true;
		c->guest_line = rec->line;
	}
	return 0;
}
