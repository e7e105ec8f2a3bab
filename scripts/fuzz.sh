#!/usr/bin/env bash
# libFuzzer + AddressSanitizer over every parser that takes outside bytes (Fuzz/certstore-fuzz/main.swift):
#   credential   PKCS#12 / PEM / DER / PKCS#7 / key files (CertStore.CredentialFile and what import does next)
#   tlsname      a send connector's TLSCertificateName (CertStore.TLSCertificateName(parsing:))
#   protocollog  Exchange SMTP protocol logs (CertStore.ProtocolLogReader + the diagnose pipeline), and the same
#                bytes as a postfix/dovecot/exim log (MailLogDiagnoser, LogDiagnoser)
#
# Usage: scripts/fuzz.sh [--ci] [--time SECONDS] [--release] [--make-corpus] [--no-build] [TARGET...]
#   (default)        every target for 300 s (--time changes it), then a summary
#   --ci             every target for 20 s: the bounded run CI does (about 1 min 30 s with the build)
#   --release        build with -c release (faster executions; the default debug build keeps asserts)
#   --make-corpus    regenerate the seed corpus in Fuzz/corpus/ with openssl and python3, then stop
#   --no-build       use the fuzzer binary already built
#   --replay         run every seed and every saved crash once (no fuzzing): the regression check
#
# Seeds are copied into a work corpus under .build-fuzz/corpus/TARGET, so new inputs never touch the repo.
# Crash, timeout, leak and out-of-memory inputs are saved as Fuzz/crashes/TARGET-crash-SHA1 (etc.), listed at
# the end, and make the script exit 1. Reproduce one with:
#   CERTSTORE_FUZZ_TARGET=TARGET .build-fuzz/debug/certstore-fuzz Fuzz/crashes/FILE
# Per-target logs (with libFuzzer's final stats) are in .build-fuzz/logs/.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

all_targets=(credential tlsname protocollog)
seconds=300
ci=0
config=debug
make_corpus=0
build=1
replay=0
targets=()
while [ $# -gt 0 ]; do
  case "$1" in
    --ci) ci=1; seconds=20 ;;
    --time) seconds="$2"; shift ;;
    --time=*) seconds="${1#--time=}" ;;
    --release) config=release ;;
    --make-corpus) make_corpus=1 ;;
    --no-build) build=0 ;;
    --replay) replay=1 ;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    credential|tlsname|protocollog) targets+=("$1") ;;
    *) echo "fuzz.sh: unknown argument $1 (targets: ${all_targets[*]})" >&2; exit 64 ;;
  esac
  shift
done
[ ${#targets[@]} -gt 0 ] || targets=("${all_targets[@]}")

# ---------------------------------------------------------------------------------------------------------
# Seed corpus: small real files, every format and variant the importer reads, plus hostile edge cases.
# Encrypted seeds use the password "fuzz" (the harness tries it, then no password). Re-running this
# regenerates new keys, so the files change; that is fine, they are seeds.
make_corpus() {
  command -v openssl >/dev/null || { echo "fuzz.sh: openssl is needed to make the corpus" >&2; exit 69; }
  command -v python3 >/dev/null || { echo "fuzz.sh: python3 is needed to make the corpus" >&2; exit 69; }
  local out="$repo/Fuzz/corpus" work
  work=$(mktemp -d)
  trap 'rm -rf "$work"' RETURN
  rm -rf "$out/credential" "$out/tlsname" "$out/protocollog"
  mkdir -p "$out/credential" "$out/tlsname" "$out/protocollog"
  (
    set -e
    cd "$work"
    c="$out/credential"
    ossl() { local e; if ! e=$(openssl "$@" 2>&1 >/dev/null); then echo "openssl $1 $2: $e" >&2; return 1; fi; }
    ec=(-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes)
    pw=(-passout pass:fuzz)
    # A CA, a leaf with every extension the properties read, a self-signed EC, an RSA-1024 and an Ed25519.
    ossl req -x509 "${ec[@]}" -keyout ca.key -out ca.pem -days 3650 -subj "/C=US/O=Fuzz Ltd/CN=Fuzz CA" \
      -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign
    ossl req -new "${ec[@]}" -keyout leaf.key -out leaf.csr -subj "/C=US/ST=Washington/L=Redmond/O=Contoso Ltd/CN=mail.contoso.com"
    printf '%s\n' "subjectAltName=DNS:mail.contoso.com,DNS:*.contoso.com,IP:192.0.2.1,IP:2001:db8::1,email:a@contoso.com,URI:https://contoso.com/" \
      "extendedKeyUsage=serverAuth,clientAuth,1.3.6.1.5.5.7.3.4" "keyUsage=critical,digitalSignature,keyEncipherment" \
      "basicConstraints=CA:FALSE" "subjectKeyIdentifier=hash" "authorityKeyIdentifier=keyid" > leaf.ext
    ossl x509 -req -in leaf.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 365 -extfile leaf.ext -out leaf.pem
    ossl req -x509 "${ec[@]}" -keyout self.key -out self.pem -days 30 -subj "/CN=selfsigned.example"
    ossl req -x509 -newkey rsa:1024 -nodes -keyout rsa.key -out rsa.pem -days 30 -subj "/CN=rsa.example/O=RSA Co"
    ossl req -x509 -newkey ed25519 -nodes -keyout ed.key -out ed.pem -days 30 -subj "/CN=ed25519.example"
    ossl req -x509 "${ec[@]}" -keyout bmp.key -out bmp.pem -days 30 -utf8 -subj "/CN=Zürich Straße/O=\"quoted, name\"/OU=a+b=c" -multivalue-rdn || true
    # PKCS#12 in every flavour.
    ossl pkcs12 -export -in leaf.pem -inkey leaf.key -certfile ca.pem -out "$c/modern-chain.pfx" "${pw[@]}"
    ossl pkcs12 -export -legacy -in self.pem -inkey self.key -out "$c/legacy-rc2.pfx" "${pw[@]}"
    ossl pkcs12 -export -in self.pem -inkey self.key -keypbe PBE-SHA1-3DES -certpbe PBE-SHA1-3DES -macalg sha1 -out "$c/3des.pfx" "${pw[@]}"
    ossl pkcs12 -export -in self.pem -inkey self.key -nomac -out "$c/nomac.pfx" "${pw[@]}"
    ossl pkcs12 -export -in self.pem -inkey self.key -keypbe NONE -certpbe NONE -nomac -name "Plain bags" -out "$c/plain-nomac.p12" "${pw[@]}"
    ossl pkcs12 -export -in leaf.pem -inkey leaf.key -certfile ca.pem -keypbe NONE -certpbe NONE -out "$c/plain-mac.p12" "${pw[@]}"
    ossl pkcs12 -export -in self.pem -inkey self.key -out "$c/empty-password.p12" -passout pass:
    ossl pkcs12 -export -in self.pem -nokeys -out "$c/cert-only.p12" "${pw[@]}"
    ossl pkcs12 -export -inkey self.key -nocerts -out "$c/key-only.p12" "${pw[@]}"
    ossl pkcs12 -export -in self.pem -inkey self.key -name "Zürich Mail" -caname "CA" -out "$c/friendly-name.pfx" "${pw[@]}"
    ossl pkcs12 -export -in rsa.pem -inkey rsa.key -out "$c/rsa1024.pfx" "${pw[@]}"
    ossl pkcs12 -export -in ed.pem -inkey ed.key -keypbe NONE -certpbe NONE -nomac -out "$c/ed25519-plain.p12" "${pw[@]}"
    # A PKCS#12 whose key matches none of its certificates: openssl refuses to write one, so the key bag of a
    # plain (unencrypted, MAC-less) file gets another P-256 key's private scalar and public point spliced in.
    ossl pkcs12 -export -in self.pem -inkey self.key -keypbe NONE -certpbe NONE -nomac -out plain-self.p12 "${pw[@]}"
    ossl pkey -in self.key -outform DER -out self.key.der
    ossl pkey -in leaf.key -outform DER -out leaf.key.der
    python3 - plain-self.p12 self.key.der leaf.key.der "$c/key-matches-nothing.p12" <<'PY'
import sys
p12, ka, kb = (open(f, "rb").read() for f in sys.argv[1:4])
def parts(k):
    i = k.index(b"\x02\x01\x01\x04\x20"); j = k.index(b"\x03\x42\x00\x04")
    return k[i + 5:i + 37], k[j + 4:j + 68]
(pa, qa), (pb, qb) = parts(ka), parts(kb)
i = p12.index(pa); j = p12.index(qa, i)   # the public point after the scalar: the key bag's, not the certificate's
open(sys.argv[4], "wb").write(p12[:i] + pb + p12[i + 32:j] + qb + p12[j + 64:])
PY
    ossl pkcs12 -export -in self.pem -inkey self.key -iter 5000 -out "$c/iterations-over-fuzz-cap.pfx" "${pw[@]}"
    # PEM and DER.
    cp leaf.pem "$c/cert.pem"
    cat leaf.pem ca.pem > "$c/bundle.pem"
    { echo "Subject: text before the block is ignored"; cat self.pem self.key; } > "$c/cert-and-key.pem"
    ossl pkey -in self.key -out "$c/key-pkcs8.pem"
    ossl ec -in self.key -out "$c/key-sec1.pem"
    ossl rsa -in rsa.key -traditional -out "$c/key-rsa-pkcs1.pem"
    ossl pkcs8 -topk8 -in self.key -v2 aes-256-cbc -iter 2048 -out "$c/key-encrypted-pkcs8.pem" "${pw[@]}"
    ossl ec -in self.key -aes128 -out "$c/key-encrypted-traditional.pem" "${pw[@]}"
    ossl pkcs8 -topk8 -in self.key -scrypt -scrypt_N 1024 -scrypt_r 8 -scrypt_p 1 -out "$c/key-encrypted-scrypt.pem" "${pw[@]}" || true
    ossl x509 -in self.pem -trustout -addtrust serverAuth -out "$c/trusted.pem"
    ossl x509 -in leaf.pem -outform DER -out "$c/cert.der"
    ossl x509 -in bmp.pem -outform DER -out "$c/utf8-names.der" || true
    ossl x509 -in ed.pem -outform DER -out "$c/ed25519.der"
    ossl pkey -in self.key -outform DER -out "$c/key-pkcs8.der"
    ossl pkcs8 -topk8 -in self.key -outform DER -v2 aes-128-cbc -iter 2048 -out "$c/key-encrypted.der" "${pw[@]}"
    ossl crl2pkcs7 -nocrl -certfile leaf.pem -certfile ca.pem -outform DER -out "$c/chain.p7b"
    ossl crl2pkcs7 -nocrl -certfile self.pem -out "$c/chain-p7.pem"
    ossl req -new -key self.key -subj "/CN=csr.example" -out "$c/csr-only.pem"
    # Hostile shapes (a few hundred bytes each): deep nesting, a huge length, NUL and bad UTF-8 in a name.
    python3 - "$c" leaf.pem <<'PY'
import base64, sys, os
out, leaf_pem = sys.argv[1], sys.argv[2]
def w(name, data):
    open(os.path.join(out, name), "wb").write(data)
w("nested-sequences.der", b"\x30\x80" * 300)
w("nested-sequences-definite.der", b"\x30\x84\x7f\xff\xff\xff" * 100)
w("huge-length.der", b"\x30\x84\xff\xff\xff\xf0\x02\x01\x03" + b"\x00" * 32)
w("pkcs12-header-only.der", b"\x30\x82\x01\x00\x02\x01\x03")
w("pem-unterminated.pem", b"-----BEGIN CERTIFICATE-----\nMIIB\n")
w("pem-bad-base64.pem", b"-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n")
der = base64.b64decode("".join(l for l in open(leaf_pem).read().splitlines() if "-----" not in l))
w("cn-nul-bad-utf8.der", der.replace(b"mail.contoso.com", b"mail\x00cont\xff\xfe.com"))
PY
    # TLSCertificateName seeds: what Exchange and admins write, and the forms the parser refuses.
    t="$out/tlsname"
    printf '%s' '<I>CN=Contoso Issuing CA 1, O=Contoso Ltd, C=US<S>CN=mail.contoso.com, O=Contoso Ltd, L=Redmond, S=Washington, C=US' > "$t/issuer-subject"
    printf '%s' '<S>CN=mail.contoso.com' > "$t/subject-only"
    printf '%s' '<i>cn=ca<s>cn=mail, O="Contoso, Ltd", OU=a + CN=b' > "$t/lowercase-quoted-multivalued"
    printf '%s' '  <I>CN=ca<S>O=no common name  ' > "$t/no-cn"
    printf '%s' '<I><S>CN=x' > "$t/empty-issuer"
    printf '%s' 'CN=mail.contoso.com' > "$t/no-tag"
    printf '<S>CN=nul\000byte, O=\377\376' > "$t/nul-bad-utf8"
    # Protocol-log seeds: the example log, the single-row certificate form, and broken lines.
    p="$out/protocollog"
    cp "$repo/examples/logs/SmtpSend/SEND20261128-1.log" "$p/example-six-rows.log"
    # The mail daemons' logs captured from postfix, dovecot and exim (the same bytes go through MailLogDiagnoser).
    for f in "$repo"/Tests/CertStoreTests/Fixtures/MailLogs/*.log; do cp "$f" "$p/mail-$(basename "$f")"; done
    python3 - "$p" <<'PY'
import os, sys
out = sys.argv[1]
fields = "#Fields: date-time,connector-id,session-id,sequence-number,local-endpoint,remote-endpoint,event,data,context"
def row(seq, event, data="", context="", session="08DE2F1A00000001"):
    q = lambda f: '"' + f.replace('"', '""') + '"' if any(c in f for c in ',"\r\n') else f
    return ",".join(q(x) for x in ["2026-11-28T09:00:00.%03dZ" % seq, "Outbound to Office 365", session, str(seq),
                                   "192.168.0.78:28252", "104.47.2.36:25", event, data, context])
single = [ "\ufeff#Software: Microsoft Exchange Server", fields,
    row(0, "*", "", "attempting to connect"), row(1, "+"),
    row(2, "*", "CN=mail.contoso.com, O=Contoso Ltd CN=Contoso Issuing CA 1, O=Contoso Ltd 0A1B2C3D 537F20CC940E58C96B39820CEACD5EC9D4B379A5 2025-12-15T00:00:00 2026-12-15T00:00:00 mail.contoso.com;autodiscover.contoso.com", "Sending certificate"),
    row(3, "*", "", "TLS negotiation failed with error NoCredentials"), row(4, "-", "", "Local")]
open(os.path.join(out, "single-row-crlf.log"), "wb").write(("\r\n".join(single) + "\r\n").encode())
broken = [fields, row(0, "*", "", "Sending certificate"), 'x,"unterminated,quote', "a,b,c",
          row(1, "*", "", "TLS negotiation failed, UnknownError"), "#Fields: a,b", "1,2", "", "#Fields:", "x"]
open(os.path.join(out, "malformed-lines.log"), "wb").write("\n".join(broken).encode())
PY
  )
  local total
  total=$(du -sb "$out" | cut -f1)
  echo "fuzz.sh: corpus in Fuzz/corpus: $(find "$out" -type f | wc -l) files, $total bytes"
}

if [ "$make_corpus" = 1 ]; then make_corpus; exit 0; fi
[ -d Fuzz/corpus/credential ] || make_corpus

# ---------------------------------------------------------------------------------------------------------
scratch=.build-fuzz
bin="$scratch/$config/certstore-fuzz"
if [ "$build" = 1 ]; then
  echo "fuzz.sh: building certstore-fuzz ($config, -sanitize=fuzzer,address)"
  swift build -c "$config" --scratch-path "$scratch" \
    -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library -Xswiftc -use-ld=lld -Xswiftc -DFUZZING \
    --product certstore-fuzz
fi
[ -x "$bin" ] || { echo "fuzz.sh: $bin is missing (run without --no-build)" >&2; exit 69; }

mkdir -p Fuzz/crashes "$scratch/logs"
# Leaks: libFuzzer checks every input that allocates more than it frees (-detect_leaks=1, its default) and
# saves it as leak-*. The check LeakSanitizer does once more at exit is off: by then it only sees OpenSSL's
# process-wide state (providers, name maps) that OPENSSL_cleanup tears down half-way, reported as
# "indirect leaks" in libcrypto with no input to blame.
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=1}"
export LSAN_OPTIONS="${LSAN_OPTIONS:-leak_check_at_exit=0}"

max_len() {
  case "$1" in credential) echo 16384 ;; tlsname) echo 4096 ;; protocollog) echo 32768 ;; esac
}

status=0
summary=()
before=$(ls Fuzz/crashes 2>/dev/null | sort)
for target in "${targets[@]}"; do
  log="$scratch/logs/$target.log"
  if [ "$replay" = 1 ]; then
    inputs=(Fuzz/corpus/"$target"/*)
    while IFS= read -r f; do inputs+=("$f"); done < <(ls Fuzz/crashes/"$target"-* 2>/dev/null || true)
    echo "fuzz.sh: replaying ${#inputs[@]} inputs for $target"
    set +e
    CERTSTORE_FUZZ_TARGET=$target "$bin" -timeout=10 -rss_limit_mb=2048 "${inputs[@]}" >"$log" 2>&1
    rc=$?
    set -e
    [ "$rc" = 0 ] || { status=1; echo "fuzz.sh: $target FAILED on replay (exit $rc); see $log"; tail -n 40 "$log"; }
    summary+=("$(printf '%-12s replay  %4d inputs  exit %d' "$target" "${#inputs[@]}" "$rc")")
    continue
  fi
  work="$scratch/corpus/$target"
  mkdir -p "$work"
  echo "fuzz.sh: fuzzing $target for ${seconds}s (seeds Fuzz/corpus/$target, work corpus $work, log $log)"
  set +e
  CERTSTORE_FUZZ_TARGET=$target "$bin" "$work" "Fuzz/corpus/$target" \
    -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len="$(max_len "$target")" \
    -artifact_prefix="Fuzz/crashes/$target-" -print_final_stats=1 -print_pcs=0 -reload=1 >"$log" 2>&1
  rc=$?
  set -e
  execs=$(sed -nE 's/^stat::number_of_executed_units: *([0-9]+).*/\1/p' "$log" | tail -n 1)
  rate=$(sed -nE 's/^stat::average_exec_per_sec: *([0-9]+).*/\1/p' "$log" | tail -n 1)
  cov=$(grep -oE 'cov: [0-9]+ ft: [0-9]+ corp: [0-9]+' "$log" | tail -n 1)
  [ "$rc" = 0 ] || status=1
  summary+=("$(printf '%-12s %5ss  %10s execs  %6s exec/s  %-32s exit %d' "$target" "$seconds" "${execs:-?}" "${rate:-?}" "${cov:-?}" "$rc")")
  if [ "$rc" != 0 ]; then
    echo "fuzz.sh: $target stopped with exit $rc; the end of its log:"
    grep -E 'ERROR:|SUMMARY:|Fatal error|Test unit written' "$log" | head -n 20 || true
  fi
done

echo
echo "fuzz.sh summary ($config build)"
for line in "${summary[@]}"; do echo "  $line"; done
after=$(ls Fuzz/crashes 2>/dev/null | sort)
new=$(comm -13 <(printf '%s\n' "$before") <(printf '%s\n' "$after") | sed '/^$/d')
if [ -n "$new" ]; then
  status=1
  echo "new crash inputs in Fuzz/crashes/:"
  printf '%s\n' "$new" | sed 's/^/  /'
  echo "reproduce: CERTSTORE_FUZZ_TARGET=<target> $bin Fuzz/crashes/<file>"
elif [ -n "$after" ] && [ "$replay" = 0 ]; then
  echo "(Fuzz/crashes/ holds earlier inputs: $(printf '%s\n' "$after" | wc -l); scripts/fuzz.sh --replay re-checks them)"
fi
[ "$status" = 0 ] && echo "fuzz.sh: no crash, no leak, no timeout"
exit "$status"
