/*
 * cr.c - writes to CR0, CR3, CR4, IA32_EFER and PKRU: the architectural
 * validity checks (SDM Vol. 3A 2.5, 2.2.1, 4.1; MOV CR / WRMSR / WRPKRU in
 * Vol. 2), the processor-maintained EFER.LMA, the loading of the PAE PDPTE
 * registers (SDM 4.4.1) and the TLB invalidation each write implies (SDM
 * 4.10.4.1).  The rules follow trace-format.md ("Architectural details").
 *
 * Every write is all-or-nothing: the new register values and PDPTEs are
 * computed into locals, and `s` is only touched once every check passed.
 * A #GP or #UD leaves the state and *flush untouched.
 */
#include "x86/paging.h"

/* CR0 bits the processor keeps; the other bits of CR0[31:0] are write-ignored. */
#define CR0_DEFINED                                                                                \
	(X86_CR0_PE | X86_CR0_MP | X86_CR0_EM | X86_CR0_TS | X86_CR0_ET | X86_CR0_NE |             \
	 X86_CR0_WP | X86_CR0_AM | X86_CR0_NW | X86_CR0_CD | X86_CR0_PG)

/* CR4 bits every model accepts; the paging features depend on the model. */
#define CR4_BASE_LEGAL                                                                             \
	(X86_CR4_VME | X86_CR4_PVI | X86_CR4_TSD | X86_CR4_DE | X86_CR4_PSE | X86_CR4_PAE |        \
	 X86_CR4_MCE | X86_CR4_PGE | X86_CR4_PCE | X86_CR4_OSFXSR | X86_CR4_OSXMMEXCPT |           \
	 X86_CR4_UMIP | X86_CR4_FSGSBASE | X86_CR4_OSXSAVE)

/* SDM 4.4.1: changing these while PAE paging is (or becomes) active reloads the PDPTEs. */
#define CR0_PDPTR_BITS (X86_CR0_PG | X86_CR0_CD | X86_CR0_NW)
#define CR4_PDPTR_BITS (X86_CR4_PAE | X86_CR4_PGE | X86_CR4_PSE | X86_CR4_SMEP)

static bool pae_paging_active(uint64_t cr0, uint64_t cr4, uint64_t efer)
{
	return (cr0 & X86_CR0_PG) && (cr4 & X86_CR4_PAE) && !(efer & X86_EFER_LMA);
}

/*
 * Read the four PDPTEs of the PDPT that cr3 points at (bits 31:5).  A
 * present PDPTE with a reserved bit set fails the load (the write #GPs);
 * memory that no slot backs reads as all-ones for the guest, which is a
 * present entry with reserved bits, so an unreadable PDPT fails too.
 */
static int load_pdptrs(const struct smmu_cpu_model *m, const struct smmu_gpa_ops *mem, uint64_t cr3,
                       uint64_t pdptrs[4])
{
	uint64_t base = cr3 & X86_PAE_CR3_MASK, rsvd = x86_pdpte_rsvd_mask(m);

	for (unsigned i = 0; i < 4; i++) {
		if (mem->read(mem->ctx, base + 8 * i, 8, &pdptrs[i]) < 0)
			return -1;
		if ((pdptrs[i] & X86_PTE_P) && (pdptrs[i] & rsvd))
			return -1;
	}
	return 0;
}

/* Load the PDPTEs into `pdptrs` if the write needs it; false on a bad PDPTE. */
static bool maybe_load_pdptrs(const struct smmu_cpu_model *m, const struct smmu_gpa_ops *mem,
                              bool needed, uint64_t cr3, uint64_t pdptrs[4])
{
	return !needed || load_pdptrs(m, mem, cr3, pdptrs) == 0;
}

static void commit_pdptrs(struct smmu_cpu_state *s, const uint64_t pdptrs[4])
{
	for (unsigned i = 0; i < 4; i++)
		s->pdptrs[i] = pdptrs[i];
}

/* ---- CR0 --------------------------------------------------------------- */

/* trace-format.md / SDM MOV CR0: the values that #GP. */
static bool cr0_is_illegal(const struct smmu_cpu_state *s, uint64_t val)
{
	if (val >> 32)
		return true;
	if ((val & X86_CR0_NW) && !(val & X86_CR0_CD))
		return true;
	if ((val & X86_CR0_PG) && !(val & X86_CR0_PE))
		return true;
	if ((val & X86_CR0_PG) && (s->efer & X86_EFER_LME) && !(s->cr4 & X86_CR4_PAE))
		return true;
	/* SDM MOV CR0: clearing PG while CR4.PCIDE = 1 #GPs (PCIDE needs IA-32e mode). */
	return !(val & X86_CR0_PG) && (s->cr4 & X86_CR4_PCIDE);
}

/* EFER.LMA follows the cr0 write that turns paging on or off with LME = 1 (SDM 9.8.5). */
static uint64_t efer_after_cr0(uint64_t efer, uint64_t old_cr0, uint64_t new_cr0)
{
	uint64_t pg_changed = (old_cr0 ^ new_cr0) & X86_CR0_PG;

	if (!pg_changed)
		return efer;
	if (new_cr0 & X86_CR0_PG)
		return (efer & X86_EFER_LME) ? efer | X86_EFER_LMA : efer;
	return efer & ~X86_EFER_LMA;
}

enum smmu_cr_result smmu_x86_write_cr0(struct smmu_cpu_state *s, const struct smmu_cpu_model *m,
                                       const struct smmu_gpa_ops *mem, uint64_t val,
                                       enum smmu_tlb_flush *flush)
{
	uint64_t pdptrs[4], efer, changed;
	bool reload;

	if (cr0_is_illegal(s, val))
		return SMMU_CR_GP;
	/* Undefined bits of CR0[31:0] are ignored; ET is hardwired to 1 since the P6. */
	val = (val & CR0_DEFINED) | X86_CR0_ET;
	changed = val ^ s->cr0;
	efer = efer_after_cr0(s->efer, s->cr0, val);
	reload = pae_paging_active(val, s->cr4, efer) && (changed & CR0_PDPTR_BITS);
	if (!maybe_load_pdptrs(m, mem, reload, s->cr3, pdptrs))
		return SMMU_CR_GP;
	if (reload)
		commit_pdptrs(s, pdptrs);
	s->cr0 = val;
	s->efer = efer;
	/* SDM 4.10.4.1: a change of CR0.PG drops every translation (we flush on 0->1 too). */
	*flush = (changed & X86_CR0_PG) ? SMMU_FLUSH_ALL : SMMU_FLUSH_NONE;
	return SMMU_CR_OK;
}

/* ---- CR3 --------------------------------------------------------------- */

enum smmu_cr_result smmu_x86_write_cr3(struct smmu_cpu_state *s, const struct smmu_cpu_model *m,
                                       const struct smmu_gpa_ops *mem, uint64_t val,
                                       enum smmu_tlb_flush *flush)
{
	uint64_t pdptrs[4];
	bool noflush = false, reload;

	if (s->efer & X86_EFER_LMA) {
		/* SDM 4.10.4.1: with PCIDE, bit 63 asks for no flush and is not stored. */
		if (s->cr4 & X86_CR4_PCIDE) {
			noflush = val & X86_CR3_NOFLUSH;
			val &= ~X86_CR3_NOFLUSH;
		}
		/* SDM 4.5: CR3 bits from MAXPHYADDR up are reserved in IA-32e mode. */
		if (val & bits_range(63, m->maxphyaddr))
			return SMMU_CR_GP;
	} else {
		/* Outside IA-32e mode MOV to CR3 has a 32-bit operand. */
		val &= 0xffffffffull;
	}
	reload = pae_paging_active(s->cr0, s->cr4, s->efer);
	if (!maybe_load_pdptrs(m, mem, reload, val, pdptrs))
		return SMMU_CR_GP;
	if (reload)
		commit_pdptrs(s, pdptrs);
	s->cr3 = val;
	*flush = noflush ? SMMU_FLUSH_NONE : SMMU_FLUSH_PCID_NONGLOBAL;
	return SMMU_CR_OK;
}

/* ---- CR4 --------------------------------------------------------------- */

static uint64_t cr4_legal_bits(const struct smmu_cpu_model *m)
{
	uint64_t legal = CR4_BASE_LEGAL;

	if (m->la57)
		legal |= X86_CR4_LA57;
	if (m->pcid)
		legal |= X86_CR4_PCIDE;
	if (m->smep)
		legal |= X86_CR4_SMEP;
	if (m->smap)
		legal |= X86_CR4_SMAP;
	if (m->pku)
		legal |= X86_CR4_PKE;
	return legal;
}

/* trace-format.md / SDM MOV CR4: the values that #GP. */
static bool cr4_is_illegal(const struct smmu_cpu_state *s, const struct smmu_cpu_model *m,
                           uint64_t val)
{
	bool lma = s->efer & X86_EFER_LMA;

	if (val & ~cr4_legal_bits(m))
		return true;
	if (lma && !(val & X86_CR4_PAE))
		return true;
	if (lma && ((val ^ s->cr4) & X86_CR4_LA57))
		return true;
	if ((val & X86_CR4_PCIDE) && !lma)
		return true;
	/* SDM 4.10.1: PCIDE may go 0 -> 1 only with CR3[11:0] = 0 (PCID 000H). */
	return (val & X86_CR4_PCIDE) && !(s->cr4 & X86_CR4_PCIDE) && (s->cr3 & X86_CR3_PCID_MASK);
}

/*
 * SDM 4.10.4.1: changing PGE, or clearing PCIDE, flushes everything; changing
 * PAE or setting SMEP flushes the current PCID.  We also flush the current
 * PCID when PSE changes, since that reinterprets 32-bit PDEs (conservative).
 */
static enum smmu_tlb_flush cr4_flush(uint64_t old, uint64_t val)
{
	uint64_t changed = old ^ val;

	if ((changed & X86_CR4_PGE) || (old & ~val & X86_CR4_PCIDE))
		return SMMU_FLUSH_ALL;
	if ((changed & (X86_CR4_PAE | X86_CR4_PSE)) || (val & ~old & X86_CR4_SMEP))
		return SMMU_FLUSH_PCID_ALL;
	return SMMU_FLUSH_NONE;
}

enum smmu_cr_result smmu_x86_write_cr4(struct smmu_cpu_state *s, const struct smmu_cpu_model *m,
                                       const struct smmu_gpa_ops *mem, uint64_t val,
                                       enum smmu_tlb_flush *flush)
{
	uint64_t pdptrs[4];
	bool reload;

	if (cr4_is_illegal(s, m, val))
		return SMMU_CR_GP;
	reload = pae_paging_active(s->cr0, val, s->efer) && ((val ^ s->cr4) & CR4_PDPTR_BITS);
	if (!maybe_load_pdptrs(m, mem, reload, s->cr3, pdptrs))
		return SMMU_CR_GP;
	if (reload)
		commit_pdptrs(s, pdptrs);
	*flush = cr4_flush(s->cr4, val);
	s->cr4 = val;
	return SMMU_CR_OK;
}

/* ---- EFER and PKRU ---------------------------------------------------------- */

enum smmu_cr_result smmu_x86_write_efer(struct smmu_cpu_state *s, const struct smmu_cpu_model *m,
                                        uint64_t val, enum smmu_tlb_flush *flush)
{
	uint64_t legal = X86_EFER_SCE | X86_EFER_LME | X86_EFER_LMA | (m->nx ? X86_EFER_NXE : 0);

	if (val & ~legal)
		return SMMU_CR_GP;
	/* SDM 9.8.5: LME may change only while paging is off. */
	if ((s->cr0 & X86_CR0_PG) && ((val ^ s->efer) & X86_EFER_LME))
		return SMMU_CR_GP;
	/* LMA belongs to the processor: the written value is ignored. */
	s->efer = (val & ~X86_EFER_LMA) | (s->efer & X86_EFER_LMA);
	/* The TLB caches XD bits, not their meaning: NXE takes effect at the next check. */
	*flush = SMMU_FLUSH_NONE;
	return SMMU_CR_OK;
}

enum smmu_cr_result smmu_x86_write_pkru(struct smmu_cpu_state *s, const struct smmu_cpu_model *m,
                                        uint64_t val)
{
	/* SDM Vol. 2 WRPKRU: #UD without CR4.PKE; the register is 32 bits wide. */
	if (!(s->cr4 & X86_CR4_PKE))
		return SMMU_CR_UD;
	if (val >> 32)
		return SMMU_CR_GP;
	s->pkru = (uint32_t)val;
	return SMMU_CR_OK;
}
