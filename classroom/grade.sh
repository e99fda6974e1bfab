#!/usr/bin/env bash
# Grade one exercise of this repository with the instructor's autograder, as a CI job does:
#   classroom/grade.sh EXERCISE BUNDLE sha256:<64 hex> REPORTS FORMAT
# One grading writes REPORTS/EXERCISE.junit.xml (JUnit, what CI test reporters read), .classroom50.json
# (Classroom 50's result.json) and .json (layerlab's report), all for the student's eyes (--audience student: a
# hidden check shows its points and a neutral line, never its detail), and FORMAT on stdout (github-summary is
# appended to $GITHUB_STEP_SUMMARY instead). With $GITHUB_OUTPUT set it adds passed, points, max-points and
# exit-code there. It exits as `layerlab grade` does: 0 when the exercise passed, 1 when not, 2 on bad input.
set -uo pipefail
say() { printf '[grade] %s\n' "$*" >&2; }

if [ $# -ne 5 ]; then
  say "usage: grade.sh EXERCISE BUNDLE sha256:<hex> REPORTS FORMAT"
  exit 2
fi
exercise=$1 bundle=$2 digest=$3 reports=$4 format=$5
layerlab=${LAYERLAB:-.venv/bin/layerlab}
if ! [[ $exercise =~ ^[0-9]{2}-[a-z0-9-]+$ ]] || [ ! -d "exercises/${exercise}" ]; then
  known=$(find exercises -mindepth 1 -maxdepth 1 -type d -printf '%f\n' 2>/dev/null | sort | xargs)
  say "no exercise '${exercise}' in this repository: give one of ${known:-none (no exercises/ folder here)}"
  exit 2
fi

mkdir -p "$reports"
report="${reports}/${exercise}.json"
rm -f "$report" "${reports}/${exercise}.junit.xml" "${reports}/${exercise}.classroom50.json"
"$layerlab" grade "exercises/${exercise}" --exercise "$exercise" \
  --autograder "${bundle}@${digest}" --audience student \
  --write "junit=${reports}/${exercise}.junit.xml" \
  --write "classroom50=${reports}/${exercise}.classroom50.json" \
  --write "json=${report}" \
  --format "$format"
rc=$?

if [ -n "${GITHUB_OUTPUT:-}" ]; then
  # The figures come from the report the grading wrote; none (bad input, an interrupted run) reads as a fail.
  python3 - "$report" "$rc" >>"$GITHUB_OUTPUT" <<'PY'
import json, sys
path, rc = sys.argv[1], sys.argv[2]
try:
    with open(path, encoding="utf-8") as f:
        r = json.load(f)
    passed, points, most = bool(r["passed"]), int(r["points"]), int(r["max_points"])
except (OSError, ValueError, KeyError, TypeError):
    passed, points, most = False, 0, 0
print(f"passed={str(passed).lower()}\npoints={points}\nmax-points={most}\nexit-code={rc}")
PY
fi
exit "$rc"
