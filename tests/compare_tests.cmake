# compare_tests.cmake - `shadowmmu compare` and the cost model (docs/compare.md,
# docs/cost.md): every conformance trace and every workload (small) must agree
# in both MMUs and print both columns with the ratio; --json and --csv carry
# the expected keys; bad modes, bad costs and one-mode failures exit non-zero.
# Included from cli_tests.cmake (SMMU_CLI, SMMU_CLI_DIR, smmu_cli_exit_test).
set(SMMU_CMP_HEADER "counter +unit +shadow +tdp +tdp/shadow\n")
foreach(trace ${SMMU_CONFORMANCE_TRACES})
  get_filename_component(name ${trace} NAME_WE)
  add_test(NAME compare_conformance_${name} COMMAND ${SMMU_CLI} compare ${trace})
  set_tests_properties(compare_conformance_${name} PROPERTIES PASS_REGULAR_EXPRESSION
    "shadow and tdp agree: .*${SMMU_CMP_HEADER}.*\nexits_pf +exits +[0-9]+ +0 .*\nwalk_refs +refs +[1-9][0-9]* +[1-9][0-9]* +[0-9.]+\n")
endforeach()
# The shadow exits show in shadow mode only, the EPT exits in TDP mode only.
add_test(NAME compare_conformance_c_cr3_exits
         COMMAND ${SMMU_CLI} compare ${PROJECT_SOURCE_DIR}/tests/conformance/c-cr3.trace)
set_tests_properties(compare_conformance_c_cr3_exits PROPERTIES PASS_REGULAR_EXPRESSION
  "\nexits_cr3 +exits +[1-9][0-9]* +0 +0.000\n.*\nexits_ept_violation +exits +0 +[1-9][0-9]* +-\n")
foreach(w boot forkwait kbuild pingpong bigmem mmapchurn mix)
  add_test(NAME compare_workload_${w} COMMAND ${SMMU_CLI} compare ${w} --size 0.02)
  set_tests_properties(compare_workload_${w} PROPERTIES PASS_REGULAR_EXPRESSION
    "shadow and tdp agree: .*${SMMU_CMP_HEADER}.*\ncost_cycles +cycles +[1-9][0-9]* +[1-9][0-9]* +[0-9.]+\n")
endforeach()
add_test(NAME compare_workload_mix_vcpus_pcid
         COMMAND ${SMMU_CLI} compare mix --size 0.02 --vcpus 2 --pcid --mode 5level)
set_tests_properties(compare_workload_mix_vcpus_pcid PROPERTIES PASS_REGULAR_EXPRESSION
  "shadow and tdp agree")
add_test(NAME compare_json
         COMMAND ${SMMU_CLI} compare forkwait --size 0.01 --json --cost exit=1200,ref=40)
set_tests_properties(compare_json PROPERTIES PASS_REGULAR_EXPRESSION
  "^\\{\"input\":\"forkwait\",\"ok\":true,\"modes\":\\[\"shadow\",\"tdp\"\\],\"records\":[1-9][0-9]*,\"expectations\":[1-9][0-9]*,\"reads_digest\":\"0x[0-9a-f]+\",\"memory_digest\":\"0x[0-9a-f]+\",\"rows\":\\[\\{\"counter\":\"records\",.*\\{\"counter\":\"exits_pf\",\"unit\":\"exits\",\"shadow\":[1-9][0-9]*,\"tdp\":0,\"tdp_over_shadow\":0\\}.*\\],\"cost\":\\{\"shadow\":\\{\"params\":\\{\"exit\":1200,\"ref\":40,.*\\},\"tdp\":\\{.*\\}\\}\\}\n$")
add_test(NAME compare_csv COMMAND ${SMMU_CLI} compare pingpong --size 0.001 --csv)
set_tests_properties(compare_csv PROPERTIES PASS_REGULAR_EXPRESSION
  "^counter,unit,shadow,tdp,tdp_over_shadow\nrecords,records,[0-9]+,[0-9]+,1\n.*\nwall_time,s,[0-9.e-]+,[0-9.e-]+,[0-9.e-]*\n")
add_test(NAME compare_one_mode COMMAND ${SMMU_CLI} compare kbuild --size 0.01 --mmu tdp)
set_tests_properties(compare_one_mode PROPERTIES PASS_REGULAR_EXPRESSION
  "tdp agree: .*\ncounter +unit +tdp\n" FAIL_REGULAR_EXPRESSION "shadow")
# The same file on both MMUs from standard input (read once).
add_test(NAME compare_stdin COMMAND sh -c
  "$<TARGET_FILE:shadowmmu_cli> compare - < ${PROJECT_SOURCE_DIR}/tests/conformance/f-fork.trace")
set_tests_properties(compare_stdin PROPERTIES PASS_REGULAR_EXPRESSION "shadow and tdp agree")

smmu_cli_exit_test(compare_bad_mode_exits_2 2 "unknown MMU 'ept' \\(shadow, tdp\\)"
                   compare mix --mmu shadow,ept)
smmu_cli_exit_test(compare_repeated_mode_exits_2 2 "MMU 'tdp' given twice"
                   compare mix --mmu tdp,tdp)
smmu_cli_exit_test(compare_bad_cost_exits_2 2 "cost 'exit': 'fast' is not a number"
                   compare mix --cost exit=fast)
smmu_cli_exit_test(compare_unknown_cost_exits_2 2 "unknown cost 'walk'"
                   compare mix --cost walk=3)
smmu_cli_exit_test(compare_wrong_expectation_exits_1 1
                   "shadow: .*wrong-expectation.trace:15: r: expected.*\n.*tdp: .*wrong-expectation.trace:15:"
                   compare ${SMMU_CLI_DIR}/wrong-expectation.trace)
smmu_cli_exit_test(compare_malformed_exits_2 2 "malformed-syntax.trace:4:3:"
                   compare ${SMMU_CLI_DIR}/malformed-syntax.trace)
# A configuration one MMU refuses: that mode is named, exit 2.
smmu_cli_exit_test(compare_one_mode_refuses_exits_2 2 "compare: shadow: .*need the TDP MMU"
                   compare boot --size 0.01 --nx-huge-pages)
smmu_cli_exit_test(compare_unknown_workload_exits_2 2 "No such file"
                   compare no-such-workload)

# run: the cost model in the summary and under "cost" in --json; --cost checked.
add_test(NAME cli_run_cost_text
         COMMAND ${SMMU_CLI} run ${PROJECT_SOURCE_DIR}/tests/conformance/c-cr3.trace --cost exit=1000,ref=10)
set_tests_properties(cli_run_cost_text PROPERTIES PASS_REGULAR_EXPRESSION
  "\ncost model +[0-9.e+]+ Mcycles = [0-9.]+ ms at 3 GHz \\(exits [1-9][0-9]*: [0-9.e+]+ Mcycles, walk refs [1-9][0-9]* x 10: ")
add_test(NAME cli_run_cost_json
         COMMAND ${SMMU_CLI} run ${SMMU_CLI_DIR}/spec-example.trace --json --mmu tdp --cost ghz=2)
set_tests_properties(cli_run_cost_json PROPERTIES PASS_REGULAR_EXPRESSION
  "\"exits_pf\":0,\"exits_pte_write\":0,\"exits_cr3\":0,\"exits_invlpg\":0,\"exits_mmio\":0,.*\\},\"cost\":\\{\"params\":\\{\"exit\":1300,\"ref\":40,\"ghz\":2,.*\"cycles\":[1-9][0-9]*,\"seconds\":[0-9.]+\\}\\}\n$")
smmu_cli_exit_test(cli_run_bad_cost_exits_2 2 "--cost: cost 'ref': '-1' is not a number >= 0"
                   run ${SMMU_CLI_DIR}/spec-example.trace --cost ref=-1)
smmu_cli_exit_test(cli_run_cost_no_value_exits_2 2 "--cost: no value" run mix --cost)
