/*
 * cost.h - the cost model of a run (docs/cost.md): an estimate of the guest
 * time the MMU costs, from the counters of struct smmu_stats,
 *
 *     cycles = sum over exit reasons (exits_R x cost of R) + walk_refs x ref
 *
 * so that shadow paging (which pays exits: #PF, gpte writes, CR3, INVLPG,
 * MMIO) and TDP (which pays longer walks on TLB misses, and EPT exits)
 * land on one scale.  Every cost is a named parameter with a published
 * default (docs/cost.md cites them); `--cost exit=1200,ref=40` overrides.
 * The model is simple on purpose: what it leaves out is in docs/cost.md.
 */
#ifndef SMMU_TRACE_COST_H
#define SMMU_TRACE_COST_H

#include <stddef.h>
#include <stdint.h>

#include <shadowmmu/shadowmmu.h>

/* The exit reasons the model charges, in smmu_stats' names without "exits_". */
#define COST_EXIT_LIST(X)                                                               \
	X(pf)            /* shadow: #PF exits handled as page faults */                   \
	X(pte_write)     /* shadow: #PF exits ended by an emulated gpte write */          \
	X(cr3)           /* shadow: MOV to CR3 */                                         \
	X(invlpg)        /* shadow: INVLPG */                                             \
	X(mmio)          /* shadow: #PF exits ended as MMIO */                            \
	X(ept_violation) /* TDP: EPT violations */                                        \
	X(ept_misconfig) /* TDP: EPT misconfigurations (MMIO) */

enum cost_exit {
#define COST_EXIT_ENUM(r) COST_EXIT_##r,
	COST_EXIT_LIST(COST_EXIT_ENUM)
#undef COST_EXIT_ENUM
	COST_NR_EXITS
};

/* Defaults (docs/cost.md has the sources). */
#define COST_DEFAULT_EXIT 1300.0 /* cycles: a VM exit and re-entry, handled in the kernel */
#define COST_DEFAULT_REF  40.0   /* cycles: one page-walk memory reference (an L3 hit) */
#define COST_DEFAULT_GHZ  3.0    /* the clock that turns cycles into seconds */

struct cost_params {
	double exit; /* cycles per exit of any reason without its own cost */
	double ref;  /* cycles per hardware-walk memory reference */
	double ghz;  /* GHz, for the estimate in seconds */
	/* cycles per exit of one reason (exit_pf=, ...); negative: `exit` */
	double exit_by[COST_NR_EXITS];
};

struct cost_estimate {
	uint64_t exits;              /* every exit the model charges */
	uint64_t walk_refs;          /* memory references of hardware walks */
	double exit_cycles;          /* sum of exits_R x cost of R */
	double walk_cycles;          /* walk_refs x ref */
	double cycles;               /* exit_cycles + walk_cycles */
	double seconds;              /* cycles / (ghz x 1e9) */
	uint64_t exits_by[COST_NR_EXITS];
};

void cost_params_init(struct cost_params *p);

/*
 * Apply "NAME=VALUE[,NAME=VALUE...]" to *p (names: exit, ref, ghz,
 * exit_pf, exit_pte_write, exit_cr3, exit_invlpg, exit_mmio,
 * exit_ept_violation, exit_ept_misconfig; values: finite numbers >= 0,
 * ghz > 0).  0, or -EINVAL with the reason in err (p is then unchanged).
 */
int cost_parse(struct cost_params *p, const char *spec, char *err, size_t errlen);

/* The cost of one exit of reason r under p. */
double cost_of_exit(const struct cost_params *p, enum cost_exit r);
/* "pf", "pte_write", ...; NULL out of range. */
const char *cost_exit_name(enum cost_exit r);
/* smmu_stats' counter of reason r. */
uint64_t cost_exit_count(const struct smmu_stats *st, enum cost_exit r);

void cost_estimate(const struct cost_params *p, const struct smmu_stats *st,
                   struct cost_estimate *out);

/*
 * The estimate as a JSON object ({"exit_cycles_each":..., ...,"cycles":...})
 * or one line of text, into buf; snprintf's return value.
 */
int cost_format_json(const struct cost_params *p, const struct cost_estimate *c, char *buf,
                     size_t len);
int cost_format_text(const struct cost_params *p, const struct cost_estimate *c, char *buf,
                     size_t len);

#endif /* SMMU_TRACE_COST_H */
