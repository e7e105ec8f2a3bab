// Fuzz entry point. A normal build compiles only the notice below; scripts/fuzz.sh builds with
// -sanitize=fuzzer,address and -DFUZZING, which compiles the libFuzzer driver instead.
#if FUZZING
#else
print("certstore-fuzz: build it with scripts/fuzz.sh (libFuzzer + AddressSanitizer)")
#endif
