#!/usr/bin/env bash
# Set up, build hw0, grade sample submissions without Docker, print the gradebook.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-system.sh || echo "note: without bubblewrap, grading falls back to resource limits only" >&2
bash scripts/setup.sh
.venv/bin/autograder build --assignment hw0
.venv/bin/python scripts/make_samples.py --out out/samples
.venv/bin/autograder grade --assignment hw0 --out out/grades.csv --feedback-dir out/feedback out/samples
echo
echo "Gradebook (out/grades.csv):"
column -s, -t < out/grades.csv
echo
echo "Per-student feedback: out/feedback/"
