/*
 * workload.h - the guest-OS workload model: named workloads that produce the
 * trace of what a small guest kernel does (boot, processes, demand paging,
 * fork with copy-on-write, exec, exit, mmap/munmap, context switches), with
 * an expectation on every access, as trace records (src/trace/trace.h).
 *
 * Records go to a sink callback one at a time, so the same generator writes
 * a text or binary file through trace_writer or feeds an executor directly
 * in constant memory (the model's own state is bounded by the guest RAM it
 * models, never by the trace length).  A trace is a pure function of
 * (workload, size, seed, vcpus, mode, pcid, gbpages).  docs/workloads.md
 * describes the model and what each workload stresses in a shadow MMU.
 */
#ifndef SMMU_WORKLOAD_H
#define SMMU_WORKLOAD_H

#include <shadowmmu/x86.h>

#include <stdbool.h>
#include <stdint.h>

#include "trace/trace.h"

#define WORKLOAD_MAX_VCPUS 64

struct workload_params {
	double size;                /* scale factor: 1.0 = the default size (0 < size <= 1000) */
	uint64_t seed;              /* random choices (pages, values, lengths) */
	unsigned vcpus;             /* 1..WORKLOAD_MAX_VCPUS */
	enum smmu_paging_mode mode; /* 32BIT, PAE, 4LEVEL (default) or 5LEVEL */
	bool pcid;                  /* PCIDs with no-flush cr3 switches (4/5-level only) */
	bool gbpages;               /* 1 GiB pages in the direct map (4/5-level only) */
};

/* A sink takes one record; a non-zero return stops the generator, which
 * returns it.  The record (and its expectation) is valid during the call. */
typedef int (*workload_sink_fn)(void *ctx, const struct trace_record *rec);

struct workload_info {
	const char *name;
	const char *summary; /* one line for --help */
};

/* size 1.0, seed 1, one vCPU, 4-level paging, no PCID, no gbpages. */
void workload_params_init(struct workload_params *p);

/* The index of the workload called `name`, or -ENOENT. */
int workload_find(const char *name);
/* The table of workloads, *nr set to its length. */
const struct workload_info *workload_list(unsigned *nr);

/*
 * Generate workload `name` with params p (NULL: defaults) into sink.
 * Returns 0, -ENOENT (unknown name), -EINVAL (a parameter out of range or a
 * combination the model does not support: pcid outside 4/5-level paging, a
 * guest RAM too large for the 32-bit direct map), -ENOMEM, or the sink's
 * non-zero return.
 */
int workload_generate(const char *name, const struct workload_params *p, workload_sink_fn sink,
                      void *sink_ctx);

/* Parse "32bit", "pae", "4level", "5level" (also "2", "3", "4", "5"). */
int workload_parse_mode(const char *s, enum smmu_paging_mode *mode);
const char *workload_mode_name(enum smmu_paging_mode mode);

#endif /* SMMU_WORKLOAD_H */
