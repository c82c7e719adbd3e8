#!/usr/bin/env bash
# Grade the bundled example submissions, as a student and an instructor would.
set -uo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python

run() {
  echo
  echo "\$ python grade.py $*"
  "$PY" grade.py "$@"
  echo "(exit status $?)"
}

run list
run check product_rule_alpha examples/product_rule_correct.py
run check product_rule_alpha examples/product_rule_chain_rule_forgotten.py
run check product_rule_alpha examples/product_rule_not_started.py
run check psp_charge examples/psp_total_not_cumulative.py
run check psp_charge examples/psp_typo_crash.py
run check neuron_gain examples/neuron_gain_hard_coded_step.py
run check chain_rule --answer "4a^3 e^(a^4+1)"
run check chain_rule examples/chain_rule_inner_forgotten.txt
run check chain_rule --answer "diff(exp(a**4+1), a)"
run check euler_population examples/euler_population_exact_solution.py
run check lif_euler examples/lif_euler_missing_parentheses.py
run check lif_euler examples/lif_euler_spikes_after_the_step.py
run check euler_linear_system examples/euler_linear_system_updated_r_E.py
# The Tutorial 1 practice set (assignment W0D4_Tutorial1_practice).
run check sine_derivative examples/sine_derivative_not_divided.py
run check riemann_sum examples/riemann_sum_right_edges.py
run check filtering examples/filtering_correct.py
run check partial_derivatives_2d examples/partial_derivatives_2d_axes_swapped.py
run check antiderivative --answer "t^3/3 - t^2/2 + t + C"
run check antiderivative examples/antiderivative_differentiated.txt
run check partial_derivatives --answer "df_dx=2x" --answer "df_dy=2x+2y"
run check product_rule_alpha examples/infinite_loop.py
run check product_rule_alpha examples/hostile_reads_reference.py
run grade examples/completed_tutorial.ipynb --report out/completed_tutorial.html
run validate
# The whole examples folder as a class: one student per file, reports and summary in out/class.
run batch examples --out out/class --workers 2
exit 0
