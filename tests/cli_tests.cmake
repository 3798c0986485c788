# cli_tests.cmake - ctest tests that drive the `shadowmmu` command: every
# conformance trace (tests/conformance, copied from shared/conformance so the
# repository is self-contained) must pass `shadowmmu check`, as must the
# trace-format.md example; a wrong expectation must exit 1, a malformed
# trace 2.
set(SMMU_CLI $<TARGET_FILE:shadowmmu_cli>)
set(SMMU_CLI_DIR ${PROJECT_SOURCE_DIR}/tests/cli)

file(GLOB SMMU_CONFORMANCE_TRACES CONFIGURE_DEPENDS
     ${PROJECT_SOURCE_DIR}/tests/conformance/*.trace)
foreach(trace ${SMMU_CONFORMANCE_TRACES})
  get_filename_component(name ${trace} NAME_WE)
  add_test(NAME cli_conformance_${name} COMMAND ${SMMU_CLI} check ${trace})
  add_test(NAME cli_conformance_${name}_audit_nounsync
           COMMAND ${SMMU_CLI} check --audit --no-unsync --tlb 4x2 ${trace})
  # A shadow-page cap far below the working set: recycling must stay invisible.
  add_test(NAME cli_conformance_${name}_max_pages_5
           COMMAND ${SMMU_CLI} check --max-mmu-pages 5 --tlb 1x1 ${trace})
endforeach()

add_test(NAME cli_host_records COMMAND ${SMMU_CLI} check ${SMMU_CLI_DIR}/host-records.trace)
add_test(NAME cli_host_records_audit
         COMMAND ${SMMU_CLI} check --audit --no-unsync ${SMMU_CLI_DIR}/host-records.trace)
add_test(NAME cli_host_merge COMMAND ${SMMU_CLI} check ${SMMU_CLI_DIR}/host-merge.trace)
add_test(NAME cli_host_merge_audit_nounsync
         COMMAND ${SMMU_CLI} check --audit --no-unsync --max-mmu-pages 5 --tlb 1x1
                 ${SMMU_CLI_DIR}/host-merge.trace)
add_test(NAME cli_spec_example COMMAND ${SMMU_CLI} check ${SMMU_CLI_DIR}/spec-example.trace)
add_test(NAME cli_spec_example_json
         COMMAND ${SMMU_CLI} run --json --audit ${SMMU_CLI_DIR}/spec-example.trace)
set_tests_properties(cli_spec_example_json PROPERTIES
                     PASS_REGULAR_EXPRESSION "^\\{\"trace\":.*\"expectations\":5,.*\\}")

function(smmu_cli_exit_test name status match)
  add_test(NAME ${name} COMMAND ${CMAKE_COMMAND} -DEXPECT=${status}
           "-DCMD=${SMMU_CLI};${ARGN}" "-DSTDERR_MATCH=${match}"
           -P ${SMMU_CLI_DIR}/expect_exit.cmake)
endfunction()

smmu_cli_exit_test(cli_wrong_expectation_exits_1 1 "wrong-expectation.trace:15: r: expected"
                   check ${SMMU_CLI_DIR}/wrong-expectation.trace)
smmu_cli_exit_test(cli_malformed_gva_exits_2 2 "malformed-gva.trace:4:.*wider than 32 bits"
                   check ${SMMU_CLI_DIR}/malformed-gva.trace)
smmu_cli_exit_test(cli_malformed_syntax_exits_2 2 "malformed-syntax.trace:4:"
                   run ${SMMU_CLI_DIR}/malformed-syntax.trace)
smmu_cli_exit_test(cli_missing_file_exits_2 2 "No such file"
                   check ${SMMU_CLI_DIR}/does-not-exist.trace)
smmu_cli_exit_test(cli_bad_option_exits_2 2 "bad option"
                   run --tlb 0x4 ${SMMU_CLI_DIR}/spec-example.trace)

# convert: text -> binary -> check, and binary -> canonical text -> check.
set(SMMU_CLI_OUT ${PROJECT_BINARY_DIR}/cli_out)
file(MAKE_DIRECTORY ${SMMU_CLI_OUT})
add_test(NAME cli_convert_to_binary
         COMMAND ${SMMU_CLI} convert ${PROJECT_SOURCE_DIR}/tests/conformance/f-fork.trace
                 ${SMMU_CLI_OUT}/f-fork.bin --binary)
add_test(NAME cli_check_binary COMMAND ${SMMU_CLI} check ${SMMU_CLI_OUT}/f-fork.bin)
add_test(NAME cli_convert_to_text
         COMMAND ${SMMU_CLI} convert ${SMMU_CLI_OUT}/f-fork.bin ${SMMU_CLI_OUT}/f-fork.txt --text)
add_test(NAME cli_check_canonical_text COMMAND ${SMMU_CLI} check ${SMMU_CLI_OUT}/f-fork.txt)
set_tests_properties(cli_convert_to_binary PROPERTIES FIXTURES_SETUP smmu_bin)
set_tests_properties(cli_check_binary cli_convert_to_text PROPERTIES FIXTURES_REQUIRED smmu_bin)
set_tests_properties(cli_convert_to_text PROPERTIES FIXTURES_SETUP smmu_txt)
set_tests_properties(cli_check_canonical_text PROPERTIES FIXTURES_REQUIRED smmu_txt)

# Workloads of the guest-OS model (docs/workloads.md): `run`/`check` take a
# workload name; every expectation holds with threads and PCIDs, and with a
# shadow-page cap and a 1-entry TLB (recycling stays invisible to the guest;
# each vCPU pins its root and 3 cached roots, so the cap is above 4 per vCPU).
foreach(w boot forkwait kbuild pingpong bigmem mmapchurn mix)
  add_test(NAME cli_workload_${w}
           COMMAND ${SMMU_CLI} check ${w} --size 0.01 --vcpus 2 --pcid)
  add_test(NAME cli_workload_${w}_max_pages_16
           COMMAND ${SMMU_CLI} check ${w} --size 0.01 --vcpus 2 --mode 5level
                   --max-mmu-pages 16 --tlb 1x1)
endforeach()
add_test(NAME cli_workload_forkwait_32bit_audit
         COMMAND ${SMMU_CLI} check forkwait --size 0.0003 --mode 32bit --vcpus 2 --audit
                 --no-unsync)
add_test(NAME cli_workload_run_json
         COMMAND ${SMMU_CLI} run pingpong --size 0.001 --mode pae --json)
set_tests_properties(cli_workload_run_json PROPERTIES
                     PASS_REGULAR_EXPRESSION "^\\{\"trace\":\"pingpong\",\"ok\":true,")
# gen: a binary file that check then runs; the text form is canonical.
add_test(NAME cli_gen_binary
         COMMAND ${SMMU_CLI} gen kbuild --size 0.002 --vcpus 3 --binary -o ${SMMU_CLI_OUT}/kbuild.bin)
add_test(NAME cli_gen_check_binary COMMAND ${SMMU_CLI} check ${SMMU_CLI_OUT}/kbuild.bin)
set_tests_properties(cli_gen_binary PROPERTIES FIXTURES_SETUP smmu_gen)
set_tests_properties(cli_gen_check_binary PROPERTIES FIXTURES_REQUIRED smmu_gen)
smmu_cli_exit_test(cli_gen_unknown_workload_exits_2 2 "unknown workload"
                   gen nosuch -o ${SMMU_CLI_OUT}/nosuch.trace)
smmu_cli_exit_test(cli_workload_pcid_in_pae_exits_2 2 "not supported together"
                   check boot --mode pae --pcid)
smmu_cli_exit_test(cli_workload_bad_mode_exits_2 2 "bad value for '--mode'"
                   run boot --mode 6level)

# A shadow-page cap below what the pinned roots of several vCPUs hold: the MMU
# must raise it to its floor and let cached roots go, never fail the access.
add_test(NAME cli_workload_mix_2vcpus_cap_5
         COMMAND ${SMMU_CLI} check mix --vcpus 2 --size 0.02 --tlb 1x1 --max-mmu-pages 5)
add_test(NAME cli_workload_forkwait_3vcpus_pae_cap_5
         COMMAND ${SMMU_CLI} check forkwait --vcpus 3 --size 0.01 --mode pae --max-mmu-pages 5)

# --dot: the shadow page DAG of the final roots, on standard output.
add_test(NAME cli_dot_pingpong COMMAND ${SMMU_CLI} check pingpong --size 0.001 --dot -)
set_tests_properties(cli_dot_pingpong PROPERTIES
                     PASS_REGULAR_EXPRESSION "digraph shadow_pages.*root_v0 -> sp.*L4 gpt gfn")

# Shortcuts beyond KVM's algorithm (docs/mmu.md, "Shortcuts and their
# switches"): with every one off, and with each one off alone, workloads and
# traces keep every expectation; `run` reports which shortcuts were on, and
# a shortcut that is off does not count (pf_mmio_spte stays 0).
add_test(NAME cli_shortcuts_none_mix_audit
         COMMAND ${SMMU_CLI} check mix --size 0.005 --vcpus 2 --pcid --audit --no-shortcuts)
add_test(NAME cli_shortcuts_none_mix_5level_cap_16
         COMMAND ${SMMU_CLI} check mix --size 0.01 --vcpus 2 --mode 5level --max-mmu-pages 16
                 --tlb 1x1 --no-shortcuts)
add_test(NAME cli_shortcuts_none_forkwait_pae
         COMMAND ${SMMU_CLI} check forkwait --size 0.01 --vcpus 2 --mode pae --no-shortcuts)
add_test(NAME cli_shortcuts_none_mmio
         COMMAND ${SMMU_CLI} check --audit --no-shortcuts ${SMMU_CLI_DIR}/mmio-repeat.trace)
add_test(NAME cli_shortcuts_none_json
         COMMAND ${SMMU_CLI} run pingpong --size 0.001 --json --no-shortcuts)
set_tests_properties(cli_shortcuts_none_json PROPERTIES
                     PASS_REGULAR_EXPRESSION "\"shortcuts\":\\[\\],.*\"leaf_handbacks\":0,\"cached_walks\":0,")
add_test(NAME cli_shortcuts_all_json
         COMMAND ${SMMU_CLI} run ${SMMU_CLI_DIR}/mmio-repeat.trace --json)
set_tests_properties(cli_shortcuts_all_json PROPERTIES PASS_REGULAR_EXPRESSION
  "\"shortcuts\":\\[\"psc\",\"fault_path\",\"gfn_cache\",\"hpte_window\",\"mmio_spte\",\"leaf_handback\",\"prefetch_hints\",\"nested_tlb\",\"psc_2d\"\\],.*\"pf_mmio_spte\":[1-9]")
foreach(s psc fault-path gfn-cache hpte-window mmio-spte leaf-handback prefetch-hints)
  add_test(NAME cli_shortcut_no_${s}_mix
           COMMAND ${SMMU_CLI} check mix --size 0.03 --vcpus 2 --pcid --no-${s})
  add_test(NAME cli_shortcut_no_${s}_mmio
           COMMAND ${SMMU_CLI} check --audit --no-${s} ${SMMU_CLI_DIR}/mmio-repeat.trace)
endforeach()
add_test(NAME cli_shortcut_no_mmio_spte_json
         COMMAND ${SMMU_CLI} run ${SMMU_CLI_DIR}/mmio-repeat.trace --json --no-mmio-spte)
set_tests_properties(cli_shortcut_no_mmio_spte_json PROPERTIES PASS_REGULAR_EXPRESSION
  "\"shortcuts\":\\[\"psc\",\"fault_path\",\"gfn_cache\",\"hpte_window\",\"leaf_handback\",\"prefetch_hints\",\"nested_tlb\",\"psc_2d\"\\],.*\"pf_mmio\":5,\"pf_mmio_spte\":0,")
add_test(NAME cli_shortcut_no_psc_text
         COMMAND ${SMMU_CLI} run pingpong --size 0.001 --no-psc --no-prefetch-hints)
set_tests_properties(cli_shortcut_no_psc_text PROPERTIES PASS_REGULAR_EXPRESSION
  "shortcuts        fault_path gfn_cache hpte_window mmio_spte leaf_handback nested_tlb psc_2d\n.*cached_walks +0\n")
smmu_cli_exit_test(cli_shortcut_unknown_exits_2 2 "bad option or argument '--no-tlb'"
                   check --no-tlb ${SMMU_CLI_DIR}/spec-example.trace)

# TDP mode (docs/tdp.md): the same traces and workloads on the TDP MMU, with
# EPT A/D on and off, every expectation holding and the audit after each
# record.  The guest cannot tell which MMU it runs on.
foreach(trace ${SMMU_CONFORMANCE_TRACES})
  get_filename_component(name ${trace} NAME_WE)
  add_test(NAME cli_tdp_conformance_${name} COMMAND ${SMMU_CLI} check --mmu tdp --audit ${trace})
  add_test(NAME cli_tdp_conformance_${name}_no_ept_ad
           COMMAND ${SMMU_CLI} check --mmu tdp --no-ept-ad --tlb 1x1 ${trace})
endforeach()
foreach(t host-records host-merge spec-example mmio-repeat)
  add_test(NAME cli_tdp_${t} COMMAND ${SMMU_CLI} check --mmu tdp --audit ${SMMU_CLI_DIR}/${t}.trace)
  add_test(NAME cli_tdp_${t}_no_ept_ad
           COMMAND ${SMMU_CLI} check --mmu tdp --no-ept-ad --audit ${SMMU_CLI_DIR}/${t}.trace)
endforeach()
foreach(w boot forkwait kbuild pingpong bigmem mmapchurn mix)
  add_test(NAME cli_tdp_workload_${w}
           COMMAND ${SMMU_CLI} check ${w} --mmu tdp --size 0.01 --vcpus 2 --audit)
endforeach()
foreach(m 32bit pae 5level)
  add_test(NAME cli_tdp_workload_mix_${m}
           COMMAND ${SMMU_CLI} check mix --mmu tdp --mode ${m} --size 0.01 --audit)
endforeach()
foreach(s nested-tlb psc-2d)
  add_test(NAME cli_tdp_shortcut_no_${s}_mix
           COMMAND ${SMMU_CLI} check mix --mmu tdp --size 0.02 --vcpus 2 --pcid --audit --no-${s})
endforeach()
add_test(NAME cli_tdp_workload_mix_gbpages_pcid
         COMMAND ${SMMU_CLI} check mix --mmu tdp --gbpages --pcid --size 0.02 --tlb 1x1)
smmu_cli_exit_test(cli_bad_mmu_exits_2 2 "bad option"
                   run --mmu ept ${SMMU_CLI_DIR}/spec-example.trace)
# Huge host backing: the TDP MMU maps 2 MiB leaves (and the audit checks each is allowed).
add_test(NAME cli_tdp_huge_backing_maps_2m
         COMMAND ${SMMU_CLI} run bigmem --mmu tdp --size 0.05 --huge-backing --audit --json)
set_tests_properties(cli_tdp_huge_backing_maps_2m PROPERTIES
                     PASS_REGULAR_EXPRESSION "\"ok\":true.*\"pages_2m\":[1-9]")
foreach(m shadow tdp)
  add_test(NAME cli_${m}_huge_dirty
           COMMAND ${SMMU_CLI} check --mmu ${m} --audit ${SMMU_CLI_DIR}/huge-dirty.trace)
  add_test(NAME cli_${m}_huge_dirty_huge_backing
           COMMAND ${SMMU_CLI} check --mmu ${m} --huge-backing --audit ${SMMU_CLI_DIR}/huge-dirty.trace)
endforeach()
# The mmu set-up record chooses the MMU; --mmu overrides it; both hold every expectation.
add_test(NAME cli_mmu_record_tdp COMMAND ${SMMU_CLI} run --json --audit ${SMMU_CLI_DIR}/mmu-record.trace)
set_tests_properties(cli_mmu_record_tdp PROPERTIES
                     PASS_REGULAR_EXPRESSION "\"ok\":true.*\"mmu\":\"tdp\",\"ept_ad\":false")
add_test(NAME cli_mmu_record_overridden
         COMMAND ${SMMU_CLI} run --json --mmu shadow ${SMMU_CLI_DIR}/mmu-record.trace)
set_tests_properties(cli_mmu_record_overridden PROPERTIES
                     PASS_REGULAR_EXPRESSION "\"ok\":true.*\"mmu\":\"shadow\"")
smmu_cli_exit_test(cli_mmu_record_twice_exits_2 2 "'mmu' given twice"
                   check ${SMMU_CLI_DIR}/mmu-twice.trace)
add_test(NAME cli_mmu_record_to_binary
         COMMAND ${SMMU_CLI} convert ${SMMU_CLI_DIR}/mmu-record.trace ${SMMU_CLI_OUT}/mmu-record.bin --binary)
add_test(NAME cli_mmu_record_binary_runs_tdp
         COMMAND ${SMMU_CLI} run --json ${SMMU_CLI_OUT}/mmu-record.bin)
set_tests_properties(cli_mmu_record_binary_runs_tdp PROPERTIES DEPENDS cli_mmu_record_to_binary
                     PASS_REGULAR_EXPRESSION "\"ok\":true.*\"mmu\":\"tdp\",\"ept_ad\":false")
# NX huge pages (TDP): code pages split from huge ones, every expectation still holding.
foreach(w mix kbuild)
  add_test(NAME cli_tdp_nx_huge_pages_${w}
           COMMAND ${SMMU_CLI} run ${w} --mmu tdp --huge-backing --nx-huge-pages --size 0.05 --audit --json)
  set_tests_properties(cli_tdp_nx_huge_pages_${w} PROPERTIES
                       PASS_REGULAR_EXPRESSION "\"ok\":true.*\"nx_lpage_splits\":[1-9]")
endforeach()
smmu_cli_exit_test(cli_nx_huge_pages_shadow_exits_2 2 "NX huge pages need the TDP MMU"
                   run mix --size 0.01 --nx-huge-pages)
# Slot deletion and moves zapping the slot's range only (TDP, KVM without its zap-all quirk).
foreach(t host-records huge-dirty)
  add_test(NAME cli_tdp_slot_zap_range_${t}
           COMMAND ${SMMU_CLI} run --mmu tdp --slot-zap-range --audit --json ${SMMU_CLI_DIR}/${t}.trace)
  set_tests_properties(cli_tdp_slot_zap_range_${t} PROPERTIES
                       PASS_REGULAR_EXPRESSION "\"ok\":true.*\"root_load\":1,\"root_cache_hit\":0,\"zap_all\":0,")
endforeach()
add_test(NAME cli_tdp_slot_zap_range_mmapchurn
         COMMAND ${SMMU_CLI} check mmapchurn --mmu tdp --slot-zap-range --size 0.05 --audit)
include(${PROJECT_SOURCE_DIR}/tests/compare_tests.cmake)
