/*
 * pte_names.h - short names for the x86 paging-entry bits, so that the
 * hand-written walker tests can spell an entry as `0x9000 | P | RW | US`.
 * Test-only: the names are too short for any header the library includes.
 */
#ifndef SMMU_TEST_PTE_NAMES_H
#define SMMU_TEST_PTE_NAMES_H

#include <shadowmmu/x86.h>

#define P  X86_PTE_P
#define RW X86_PTE_RW
#define US X86_PTE_US
#define A  X86_PTE_A
#define D  X86_PTE_D
#define PS X86_PTE_PS
#define NX X86_PTE_NX

#endif /* SMMU_TEST_PTE_NAMES_H */
