/*
 * cost.c - the cost model of a run (cost.h, docs/cost.md): exits by reason
 * times their cost plus hardware-walk references times theirs, and the
 * `--cost NAME=VALUE,...` spelling of its parameters.  Pure arithmetic on
 * struct smmu_stats, so that `run`, `compare` and the tests share it.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "trace/cost.h"

static const char *const exit_names[COST_NR_EXITS] = {
#define COST_EXIT_NAME(r) #r,
	COST_EXIT_LIST(COST_EXIT_NAME)
#undef COST_EXIT_NAME
};

void cost_params_init(struct cost_params *p)
{
	p->exit = COST_DEFAULT_EXIT;
	p->ref = COST_DEFAULT_REF;
	p->ghz = COST_DEFAULT_GHZ;
	for (unsigned r = 0; r < COST_NR_EXITS; r++)
		p->exit_by[r] = -1.0;
}

const char *cost_exit_name(enum cost_exit r)
{
	return (unsigned)r < COST_NR_EXITS ? exit_names[r] : NULL;
}

uint64_t cost_exit_count(const struct smmu_stats *st, enum cost_exit r)
{
	switch (r) {
#define COST_EXIT_COUNT(name)                                                                      \
	case COST_EXIT_##name:                                                                     \
		return st->exits_##name;
		COST_EXIT_LIST(COST_EXIT_COUNT)
#undef COST_EXIT_COUNT
	default:
		return 0;
	}
}

double cost_of_exit(const struct cost_params *p, enum cost_exit r)
{
	return (unsigned)r < COST_NR_EXITS && p->exit_by[r] >= 0 ? p->exit_by[r] : p->exit;
}

/* The parameter NAME names: &p->exit, &p->ref, &p->ghz, &p->exit_by[r]; NULL if none. */
static double *param_slot(struct cost_params *p, const char *name, size_t len)
{
	if (len == 4 && !strncmp(name, "exit", 4))
		return &p->exit;
	if (len == 3 && !strncmp(name, "ref", 3))
		return &p->ref;
	if (len == 3 && !strncmp(name, "ghz", 3))
		return &p->ghz;
	if (len > 5 && !strncmp(name, "exit_", 5)) {
		for (unsigned r = 0; r < COST_NR_EXITS; r++)
			if (strlen(exit_names[r]) == len - 5 && !strncmp(name + 5, exit_names[r], len - 5))
				return &p->exit_by[r];
	}
	return NULL;
}

static bool parse_number(const char *s, size_t len, double *v)
{
	char buf[64], *end;

	if (!len || len >= sizeof(buf))
		return false;
	memcpy(buf, s, len);
	buf[len] = 0;
	errno = 0;
	*v = strtod(buf, &end);
	return !errno && !*end && isfinite(*v) && *v >= 0;
}

/* One NAME=VALUE of spec [s, s + len) into *p. */
static int parse_one(struct cost_params *p, const char *s, size_t len, char *err, size_t errlen)
{
	const char *eq = memchr(s, '=', len);
	double *slot, v;

	if (!eq) {
		snprintf(err, errlen, "'%.*s' is not NAME=VALUE", (int)len, s);
		return -EINVAL;
	}
	slot = param_slot(p, s, (size_t)(eq - s));
	if (!slot) {
		snprintf(err, errlen,
		         "unknown cost '%.*s' (exit, ref, ghz, exit_pf, exit_pte_write, exit_cr3, "
		         "exit_invlpg, exit_mmio, exit_ept_violation, exit_ept_misconfig)",
		         (int)(eq - s), s);
		return -EINVAL;
	}
	if (!parse_number(eq + 1, len - (size_t)(eq + 1 - s), &v) || (slot == &p->ghz && v <= 0)) {
		snprintf(err, errlen, "cost '%.*s': '%.*s' is not a number >= 0%s", (int)(eq - s), s,
		         (int)(len - (size_t)(eq + 1 - s)), eq + 1, slot == &p->ghz ? " (ghz > 0)" : "");
		return -EINVAL;
	}
	*slot = v;
	return 0;
}

int cost_parse(struct cost_params *p, const char *spec, char *err, size_t errlen)
{
	struct cost_params q = *p;

	if (!spec || !*spec) {
		snprintf(err, errlen, "empty cost list");
		return -EINVAL;
	}
	for (const char *s = spec;;) {
		const char *comma = strchr(s, ',');
		size_t len = comma ? (size_t)(comma - s) : strlen(s);
		int ret = parse_one(&q, s, len, err, errlen);

		if (ret)
			return ret;
		if (!comma)
			break;
		s = comma + 1;
	}
	*p = q;
	return 0;
}

void cost_estimate(const struct cost_params *p, const struct smmu_stats *st,
                   struct cost_estimate *out)
{
	memset(out, 0, sizeof(*out));
	for (unsigned r = 0; r < COST_NR_EXITS; r++) {
		out->exits_by[r] = cost_exit_count(st, (enum cost_exit)r);
		out->exits += out->exits_by[r];
		out->exit_cycles += (double)out->exits_by[r] * cost_of_exit(p, (enum cost_exit)r);
	}
	out->walk_refs = st->walk_refs;
	out->walk_cycles = (double)st->walk_refs * p->ref;
	out->cycles = out->exit_cycles + out->walk_cycles;
	out->seconds = out->cycles / (p->ghz * 1e9);
}

int cost_format_json(const struct cost_params *p, const struct cost_estimate *c, char *buf,
                     size_t len)
{
	size_t n = (size_t)snprintf(buf, len, "{\"params\":{\"exit\":%g,\"ref\":%g,\"ghz\":%g", p->exit,
	                            p->ref, p->ghz);

	for (unsigned r = 0; r < COST_NR_EXITS && n < len; r++)
		n += (size_t)snprintf(buf + n, len - n, ",\"exit_%s\":%g", exit_names[r],
		                      cost_of_exit(p, (enum cost_exit)r));
	if (n < len)
		n += (size_t)snprintf(buf + n, len - n,
		                      "},\"exits\":%" PRIu64 ",\"walk_refs\":%" PRIu64
		                      ",\"exit_cycles\":%.0f,\"walk_cycles\":%.0f,\"cycles\":%.0f"
		                      ",\"seconds\":%.9f}",
		                      c->exits, c->walk_refs, c->exit_cycles, c->walk_cycles, c->cycles,
		                      c->seconds);
	return (int)n;
}

int cost_format_text(const struct cost_params *p, const struct cost_estimate *c, char *buf,
                     size_t len)
{
	return snprintf(buf, len,
	                "%.4g Mcycles = %.3f ms at %g GHz (exits %" PRIu64 ": %.4g Mcycles, walk refs %" PRIu64
	                " x %g: %.4g Mcycles)",
	                c->cycles / 1e6, c->seconds * 1e3, p->ghz, c->exits, c->exit_cycles / 1e6,
	                c->walk_refs, p->ref, c->walk_cycles / 1e6);
}
