/*
 * executor.h - runs a trace (trace.h records) on a shadowmmu VM through the
 * public API only (shadowmmu.h) and checks every `=> EXPECT`.
 *
 * Set-up records (vcpus, cpu) configure the VM, which is created lazily at
 * the first other record.  Guest records run on their vCPU; the outcome the
 * guest observes (value, ok, pf EC, gp, ud; MMIO counts as ok and reads
 * all-ones) is compared with the expectation.  The first mismatch or run-time
 * error stops the run with a one-line message "NAME:LINE: ...".
 *
 * Run-time rules of docs/trace-format.md the executor enforces (the reader
 * enforces the static ones): outside IA-32e mode a GVA wider than 32 bits is
 * a malformed trace; a slot the memslot layer refuses (overlap, duplicate ID)
 * is a malformed trace; a vCPU call answering SMMU_INVALID is an error.
 * VMM and host records run through the public API too: slot del/move/log,
 * `dirty` (compared with the slot's dirty log, which the fetch clears),
 * `host swap`, `host migrate`, `host merge` (pages never touched are not
 * merged; pages that differ make the trace malformed) and `host age`
 * (compared with the pages accessed since the last age).
 */
#ifndef SMMU_TRACE_EXECUTOR_H
#define SMMU_TRACE_EXECUTOR_H

#include <shadowmmu/shadowmmu.h>

#include <stdbool.h>
#include <stdint.h>

#include "trace/trace.h"

/* The MMU knobs an executor run may turn (0 means the library default). */
struct exec_opts {
	bool audit;               /* smmu_vm_audit() after every record */
	bool unsync;              /* allow unsync shadow pages (default on) */
	uint64_t n_max_mmu_pages; /* cap on shadow pages */
	unsigned tlb_sets, tlb_ways;
	uint64_t arena_bytes;
	uint32_t shortcuts;       /* SMMU_SHORTCUT_* on (exec_opts_init: SMMU_SHORTCUTS_ALL) */
	enum smmu_mmu_mode mmu;   /* shadow (default) or tdp */
	bool mmu_forced;          /* mmu and ept_ad win over a trace's mmu record (--mmu) */
	bool huge_backing;        /* back memslots with 2 MiB host pages */
	bool nx_huge_pages;       /* tdp: the NX huge page mitigation */
	bool slot_zap_range;      /* tdp: slot delete/move zaps the slot's range only */
	bool ept_ad;              /* tdp: EPT A/D flags (exec_opts_init: on) */
};

/* What a run did (guest_faults = pf + gp + ud observed, expected or not). */
struct exec_counts {
	uint64_t records;        /* records executed, header included */
	uint64_t guest_records;  /* records run on a vCPU */
	uint64_t guest_accesses; /* r, w, x */
	uint64_t guest_faults;
	uint64_t pf, gp, ud;
	uint64_t mmio;         /* accesses that exited as MMIO */
	uint64_t expectations; /* expectations checked (all held if the run is ok) */
	double seconds;        /* wall time of exec_run() */
	/*
	 * What the guest saw, as 64-bit FNV-1a digests (exec_fnv1a; docs/compare.md):
	 * reads_digest over every r and x record in order - its result code
	 * (one byte), then 8 bytes little-endian: the value read for a
	 * completed or MMIO access, the error code for a #PF, 0 otherwise;
	 * memory_digest of the final guest memory, set by exec_memory_digest().
	 */
	uint64_t reads_digest;
	uint64_t memory_digest;
};

#define EXEC_FNV_OFFSET 0xcbf29ce484222325ull /* FNV-1a 64-bit offset basis */
#define EXEC_FNV_PRIME  0x100000001b3ull      /* FNV-1a 64-bit prime */

/* FNV-1a: fold bytes p[0..n) into the digest h (start from EXEC_FNV_OFFSET). */
static inline uint64_t exec_fnv1a(uint64_t h, const void *p, size_t n)
{
	const unsigned char *b = p;

	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * EXEC_FNV_PRIME;
	return h;
}

/* Fold a 64-bit value as its 8 bytes, least significant first. */
static inline uint64_t exec_fnv1a_u64(uint64_t h, uint64_t v)
{
	for (unsigned i = 0; i < 8; i++, v >>= 8)
		h = (h ^ (v & 0xff)) * EXEC_FNV_PRIME;
	return h;
}

struct executor;

void exec_opts_init(struct exec_opts *opts);

/* 0 or -ENOMEM.  `name` (the trace's name) prefixes messages; opts may be NULL. */
int exec_create(struct executor **out, const char *name, const struct exec_opts *opts);
void exec_destroy(struct executor *e);

/*
 * Run one record.  Returns 0, -EDOM when an expectation does not hold,
 * -EUCLEAN when the audit finds a broken MMU invariant, -EINVAL for a
 * malformed trace (run-time rule), -ENOMEM when the VM or the MMU ran out
 * of memory.  After a non-zero return exec_message() says why; later calls
 * return the same error.
 */
int exec_record(struct executor *e, const struct trace_record *rec);

/* Run recs[0..n) in order, hinting each EXEC_LOOKAHEAD records ahead; 0 or the first error. */
int exec_records(struct executor *e, const struct trace_record *recs, size_t n);

/* Read and run every record; reader errors come back as their errno with the
 * reader's message.  Counts the wall time into exec_counts()->seconds. */
int exec_run(struct executor *e, struct trace_reader *r);

/* Open `path` (text or binary) with the options this executor needs. */
int exec_open_reader(struct trace_reader **rp, FILE *f, const char *name);

/*
 * The digest of the final guest memory into exec_counts()->memory_digest
 * (and *out): every memslot in ID order, each as its ID, gpa and size
 * (8 bytes each, FNV-1a by byte), then each page of it that is not all
 * zeros as its gpa (the same way) and its 512 64-bit words, one FNV-1a step
 * per word rather than per byte.  Pages are read with smmu_vm_peek_gpa, so
 * nothing is faulted in: a page never touched and a zero page are the same
 * to the guest and to the digest (docs/compare.md).  0, -ENOMEM, or
 * smmu_vm_peek_gpa's error.
 */
int exec_memory_digest(struct executor *e, uint64_t *out);

const char *exec_message(const struct executor *e);
const struct exec_counts *exec_counts(const struct executor *e);
/* The VM (created on demand if the trace had no non-setup record); NULL on -ENOMEM. */
struct smmu_vm *exec_vm(struct executor *e);
/* The VM's configuration: the options, then the trace's set-up records (vcpus, cpu, mmu). */
const struct smmu_vm_config *exec_config(const struct executor *e);

#endif /* SMMU_TRACE_EXECUTOR_H */
