# Counts the instructions of one hot alloc+free pair under callgrind and fails above budget.
#
# Run as: cmake -DVALGRIND=... -DDRIVER=... -DLOCK=<no_lock|spin_lock|per_thread>
#               -DSCENARIO=<lone|steady> -DBUDGET=<n> -DPAIRS=<n> -DWORK_DIR=<dir>
#               -P check_budget.cmake
# The driver is run for PAIRS and for 2 * PAIRS pairs; only the measured functions are
# counted (--toggle-collect), and subtracting the two counts cancels whatever is paid once.
foreach(required IN ITEMS VALGRIND DRIVER LOCK SCENARIO BUDGET PAIRS WORK_DIR)
  if(NOT DEFINED ${required})
    message(FATAL_ERROR "check_budget.cmake: ${required} is not set")
  endif()
endforeach()

function(count_instructions pairs out_var)
  set(profile "${WORK_DIR}/callgrind.${LOCK}.${SCENARIO}.${pairs}.out")
  execute_process(
    COMMAND "${VALGRIND}" --tool=callgrind --toggle-collect=measured_*
            "--callgrind-out-file=${profile}" "${DRIVER}" "${LOCK}" "${SCENARIO}" "${pairs}"
    RESULT_VARIABLE exit_code
    OUTPUT_QUIET
    ERROR_VARIABLE valgrind_log)
  if(NOT exit_code EQUAL 0)
    message(FATAL_ERROR "budget_driver ${LOCK} ${SCENARIO} ${pairs} failed (${exit_code}):\n${valgrind_log}")
  endif()
  file(STRINGS "${profile}" summary REGEX "^summary: [0-9]+$")
  if(NOT summary MATCHES "^summary: ([0-9]+)$")
    message(FATAL_ERROR "no instruction count in ${profile}")
  endif()
  set(${out_var} "${CMAKE_MATCH_1}" PARENT_SCOPE)
endfunction()

math(EXPR double_pairs "${PAIRS} * 2")
count_instructions(${PAIRS} single)
count_instructions(${double_pairs} double)
math(EXPR per_pair "(${double} - ${single} + ${PAIRS} / 2) / ${PAIRS}")
message(STATUS "${LOCK}, ${SCENARIO}: ${per_pair} instructions per alloc+free pair through the box API "
               "(budget ${BUDGET}; ${single} for ${PAIRS} pairs, ${double} for ${double_pairs})")
if(per_pair GREATER BUDGET)
  message(FATAL_ERROR "${LOCK}, ${SCENARIO}: ${per_pair} instructions per pair exceeds the budget of ${BUDGET}")
endif()
