# The tally the command-line tests keep, sourced by them (not a test itself: ctest runs test_*.sh).
#   ok NAME / bad NAME   a check that passed / failed, printed as PASS / FAIL NAME
#   tally LABEL          prints "LABEL: P passed, F failed"; its status is non-zero when any failed
#   ref_field FIXTURE FIELD [SEP]   a list in tests/fixtures/models/FIXTURE/reference.json, its ids
#                        joined by SEP (default ",")
passed=0
failed=0
ok() { echo "PASS $1"; passed=$((passed + 1)); }
bad() { echo "FAIL $1"; failed=$((failed + 1)); }
tally() {
  echo "$1: $passed passed, $failed failed"
  [ "$failed" -eq 0 ]
}
ref_field() {
  python3 -c "import json,sys; print(sys.argv[3].join(map(str, json.load(open(sys.argv[1]))[sys.argv[2]])))" \
    "tests/fixtures/models/$1/reference.json" "$2" "${3:-,}"
}
