#!/usr/bin/env bash
# The whole test suite under AddressSanitizer: the library, the test bundle and the certstore binary the
# end-to-end tests run are all built with -sanitize=address (scratch path .build-asan, so normal builds stay
# unsanitized). Fails on a failed test, on fewer tests than expected, and on any AddressSanitizer report in
# the output (a sanitizer error in a child certstore also shows up as a failed test).
#
# Usage: scripts/asan-test.sh [--leaks] [swift test arguments…]      e.g. scripts/asan-test.sh --filter ReliabilityTests
#   --leaks   also run LeakSanitizer at every process exit (off by default: OpenSSL's process-wide state,
#             such as the legacy provider certstore loads once, is reported as "indirect leaks" at exit)
# The log is kept in .build-asan/asan-test.log.
set -euo pipefail
cd "$(dirname "$0")/.."

leaks=0
args=()
for arg in "$@"; do
  case "$arg" in
    --leaks) leaks=1 ;;
    *) args+=("$arg") ;;
  esac
done

scratch=.build-asan
# AddressSanitizer brings its own malloc: build the binary with glibc's, not jemalloc (Package.swift).
export CERTSTORE_SYSTEM_MALLOC=1
mkdir -p "$scratch"
log="$scratch/asan-test.log"
# halt_on_error: the first error ends the process with a report; detect_stack_use_after_return: also
# catches use of a returned stack frame; strict_string_checks: C string functions check their whole input.
options="halt_on_error=1:detect_stack_use_after_return=1:strict_string_checks=1:check_initialization_order=1"
if [ "$leaks" = 1 ]; then options="$options:detect_leaks=1"; else options="$options:detect_leaks=0"; fi
# No suppressions: swift-corelibs-foundation's Process.run() over-reads /proc/self/fd entries
# (findMaximumOpenFromProcSelfFD, fixed upstream in swift-corelibs-foundation#5472, not in Swift 6.3.1), so
# neither certstore nor its tests use it (ChildProcess instead); a report from it means it crept back in.
export ASAN_OPTIONS="${ASAN_OPTIONS:-$options}"
# The end-to-end tests find the sanitized binary next to the test bundle; never an outside one.
unset CERTSTORE_BIN

echo "asan-test.sh: building with -sanitize=address into $scratch (ASAN_OPTIONS=$ASAN_OPTIONS)"
start=$(date +%s)
swift build --build-tests --sanitize=address --scratch-path "$scratch"
built=$(date +%s)
set +e
swift test --skip-build --sanitize=address --scratch-path "$scratch" ${args[@]+"${args[@]}"} 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
end=$(date +%s)

summary=$(grep -E 'Test run with [0-9]+ tests?' "$log" | tail -n 1 || true)
reports=$(grep -cE 'ERROR: (AddressSanitizer|LeakSanitizer)' "$log" || true)
echo
echo "asan-test.sh: build $((built - start)) s, tests $((end - built)) s; ${summary:-no summary line}"
echo "asan-test.sh: AddressSanitizer reports in the output: $reports"
if [ "$reports" != 0 ]; then
  grep -nE 'ERROR: (AddressSanitizer|LeakSanitizer)|SUMMARY: ' "$log" | head -n 20
  exit 1
fi
if [ "$status" -ne 0 ] || [ -z "$summary" ] || printf '%s\n' "$summary" | grep -q failed; then
  echo "asan-test.sh: the test run failed (exit $status)"
  exit 1
fi
echo "asan-test.sh: OK"
