#!/usr/bin/env bash
# The attack run of issue 13, repeatable: a store tree that someone else can write must never make root read,
# write or delete outside it. Each attack is tried against the real binary on a scratch store and reported
# HELD or NOT HELD; the exit status is the number of attacks that did not hold. docs/RELIABILITY.md
# ("Attacks on a writable store") records the catalogue and the results. The same shapes are tests in
# Tests/EndToEndTests/HardeningTests.swift and Tests/CertStoreTests/HardeningUnitTests.swift.
#
# Usage (as root: attacks chown to uid 65534 and lchown links): scripts/attack-writable-store.sh [BINARY]
#   BINARY defaults to $CERTSTORE_BIN, else .build/debug/certstore (built with `swift build` when missing).
# Needs openssl, python3 and /usr/bin/time. Servers it starts listen on 127.0.0.1 only and stop by themselves.
set -u
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "run as root (the attacks chown files to another user)" >&2; exit 64; }
bin=${1:-${CERTSTORE_BIN:-$PWD/.build/debug/certstore}}
[ -x "$bin" ] || swift build >&2 || exit 70
bin=$(realpath "$bin")
work=$(mktemp -d /tmp/certstore-attack.XXXXXX)
chmod 755 "$work"
trap 'rm -rf "$work"' EXIT
export NO_COLOR=1
unset CERTSTORE_ROOT
failed=0
results=()
verdict() {  # verdict LETTER DESCRIPTION CONDITION-STATUS
    if [ "$3" = 0 ]; then results+=("HELD      $1  $2"); else results+=("NOT HELD  $1  $2"); failed=$((failed + 1)); fi
}

# --- a store: CA, three leaves with keys (L1, L2, L3), one keyless certificate (K); L2 removed into the trash
pki=$work/pki; mkdir -p "$pki"; cd "$pki" || exit 70
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -out ca.pem -days 30 \
    -subj "/CN=Attack Test CA" -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
for n in 1 2 3 4; do
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout l$n.key -out l$n.csr -subj "/CN=host$n.example" 2>/dev/null
    printf 'subjectAltName=DNS:host%s.example\nextendedKeyUsage=serverAuth\n' $n > l$n.ext
    openssl x509 -req -in l$n.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 20 -extfile l$n.ext -out l$n.pem 2>/dev/null
    cat l$n.pem l$n.key > l$n-with-key.pem
done
thumb() { openssl x509 -in "$1" -noout -fingerprint -sha1 | cut -d= -f2 | tr -d :; }
L1=$(thumb l1.pem); L2=$(thumb l2.pem); L3=$(thumb l3.pem); K=$(thumb l4.pem)
cd - >/dev/null || exit 70
template=$work/template
"$bin" --root "$template" import "$pki/ca.pem" --store LocalMachine/Root >/dev/null 2>&1
for n in 1 2 3; do "$bin" --root "$template" import "$pki/l$n-with-key.pem" >/dev/null 2>&1; done
"$bin" --root "$template" import "$pki/l4.pem" >/dev/null 2>&1
"$bin" --root "$template" remove "$L2" --delete-key >/dev/null 2>&1
fresh() { rm -rf "$work/root"; cp -a "$template" "$work/root"; root=$work/root; lm=$root/LocalMachine; }
cs() { "$bin" --root "$root" "$@"; }
entry() { ls "$lm/Trash" | grep -v '^\.' | head -1; }

# --- A: restore trusts the trash manifest
fresh; id=$(entry); printf 'payload\n' > "$root/pwned"
python3 - "$lm/Trash/$id/manifest.json" <<'EOF'
import json, sys; p = sys.argv[1]; m = json.load(open(p)); m["keyFile"] = "../../../pwned"; json.dump(m, open(p, "w"))
EOF
cs restore "$L2" >/dev/null 2>&1; status=$?
[ "$status" != 0 ] && [ ! -e "$work/pwned" ] && [ ! -e "$lm/My/$L2.cer" ]; verdict A "manifest keyFile ../../../pwned: restore refused, nothing written outside" $?
fresh; id=$(entry); ln -s "$lm/Trash/$id" "$lm/Trash/20990101T000000Z-LINKED00"
cs trash list >/dev/null 2>&1; [ $? = 77 ]; verdict A "a trash entry that is a symbolic link: refused, not listed twice" $?
fresh; id=$(entry); chown 65534:65534 "$lm/Trash/$id"
cs restore "$L2" >/dev/null 2>&1; [ $? = 77 ]; verdict A "a trash entry owned by another user: refused" $?
fresh; id=$(entry); cp "$lm/My/$L1.cer" "$lm/Trash/$id/$L2.cer"
cs restore "$L2" >/dev/null 2>&1; [ $? = 65 ] && [ ! -e "$lm/My/$L2.cer" ]; verdict A "a trash .cer that is another certificate: refused" $?

# --- B: pruning follows a planted link
fresh; mkdir -p "$work/victim" "$lm/Services/SMTP"; printf 'keep me\n' > "$work/victim/precious.conf"
ln -s "$work/victim" "$lm/Services/SMTP/v20200101T000000Z-AAAAAAAA"
cs enable "$L1" --services SMTP >/dev/null 2>&1
cs enable "$L3" --services SMTP --overwrite-default >/dev/null 2>&1
cs disable "$L1" --services SMTP >/dev/null 2>&1
[ -e "$work/victim/precious.conf" ]; verdict B "planted Services/SMTP/v… -> a directory: nothing in it deleted" $?

# --- C: a forged index (valid SHA-256 trailer)
forge() {
    python3 - "$1" <<'EOF'
import hashlib, sys
p = sys.argv[1]; b = bytearray(open(p, "rb").read()); body = bytes(b[:-32]).replace(b"\x07Missing", b"\x07Present")
open(p, "wb").write(body + hashlib.sha256(body).digest())
EOF
}
for attack in owner mode cache; do
    fresh; cs list >/dev/null 2>&1; forge "$lm/.cache/My.index"
    case $attack in owner) chown 65534 "$lm/.cache/My.index" ;; mode) chmod 666 "$lm/.cache/My.index" ;; cache) chown 65534 "$lm/.cache" ;; esac
    out=$(cs list --has-private-key --format json 2>/dev/null); ! grep -q "$K" <<<"$out"; verdict C "forged index ($attack): keyless certificate not believed to have a key" $?
done
fresh; rm -rf "$lm/.cache"; mkdir "$work/elsewhere"; ln -s "$work/elsewhere" "$lm/.cache"; cs list >/dev/null 2>&1
[ -z "$(ls -A "$work/elsewhere")" ]; verdict C "a linked .cache: the index is not written through it" $?

# --- D: store sub-directories open to others
for dir in My CA Root Trash Services; do
    for attack in mode owner; do
        fresh; mkdir -p "$lm/$dir"; chmod 755 "$lm/$dir"
        if [ $attack = mode ]; then chmod 777 "$lm/$dir"; else chown 65534 "$lm/$dir"; fi
        cs list >/dev/null 2>&1; l=$?; cs check >/dev/null 2>&1; c=$?; cs audit >/dev/null 2>&1; a=$?
        [ $l = 77 ] && [ $c = 2 ] && [ $a = 2 ]; verdict D "$dir ($attack): every command refuses (77), check and audit CRITICAL" $?
    done
done
fresh; chown 65534 "$root"; cs check >/dev/null 2>&1; [ $? = 2 ]; verdict D "a root owned by another user: check CRITICAL, not OK" $?

# --- E: world-readable service keys
fresh; cs enable "$L1" --services IMAP >/dev/null 2>&1; chmod 644 "$lm/Services/IMAP/current/privkey.pem"
out=$(cs audit --format json 2>/dev/null); grep -q service-key-exposed <<<"$out"; verdict E "a 0644 deployed key: audit CRITICAL service-key-exposed" $?
cs deploy >/dev/null 2>&1
loose=$(find "$lm/Services/IMAP" -name privkey.pem -perm /077 | wc -l); [ "$loose" = 0 ]; verdict E "deploy: no version's key left open (live and kept)" $?
fresh; cs enable "$L1" --services IMAP --service-user nobody >/dev/null 2>&1
[ "$(stat -c '%u %a' "$lm/Services/IMAP/current/privkey.pem")" = "0 440" ]; verdict E "--service-user: key is root's, 0440, the account's group" $?

# --- F: the hook environment
fresh; mkdir -p "$lm/Hooks"; chmod 755 "$lm/Hooks"
printf '#!/bin/sh\nenv > %s/hook-env\n' "$work" > "$lm/Hooks/10-env"; chmod 755 "$lm/Hooks/10-env"
PFXPW=secret cs enable "$L1" --services IMAP >/dev/null 2>&1
[ -s "$work/hook-env" ] && ! grep -q PFXPW "$work/hook-env"; verdict F "--password-env variable does not reach hooks" $?

# --- G and H: control characters and shell metacharacters in names from documents
fresh; cs connector add Plain --tls-certificate-name "<I>CN=Nobody<S>CN=nothing.example" >/dev/null 2>&1
python3 - "$lm/connectors.json" 'evil\u001b]0;owned\u0007\u001b[2J\r\u009bx' <<'EOF'
import sys; p = sys.argv[1]; t = open(p).read().replace('"Plain"', '"' + sys.argv[2] + '"'); open(p, "w").write(t)
EOF
name=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["sendConnectors"][0]["name"])' "$lm/connectors.json")
out=$(cs connector resolve "$name" 2>&1); ! LC_ALL=C grep -q $'[\x01-\x09\x0b-\x1f\x7f]' <<<"$out"; verdict G "ESC/BEL/CR in a connector name: connector resolve prints them escaped" $?
bad=$work/$'bad\e[2J.pem'; printf 'not a certificate\n' > "$bad"
out=$(cs import "$bad" 2>&1); ! LC_ALL=C grep -q $'[\x01-\x09\x0b-\x1f\x7f]' <<<"$out"; verdict G "ESC in a file name: import's error escapes it" $?
fresh; cs connector add 'Out $(touch pwned) `touch pwned2`' --tls-certificate-name "<I>CN=Nobody<S>CN=nothing.example" >/dev/null 2>&1
mkdir "$work/paste"; cs audit --format json 2>/dev/null | python3 -c '
import json, sys
for f in json.load(sys.stdin)["findings"]:
    for line in f.get("fix", []):
        if line.startswith("certstore connector"): print(line)' > "$work/fixes"
(cd "$work/paste" && while IFS= read -r line; do sh -c "certstore() { :; }; $line"; done < "$work/fixes")
[ -s "$work/fixes" ] && [ -z "$(ls -A "$work/paste")" ]; verdict H "\$(…) and backquotes in a connector name: pasted fix lines run nothing" $?

# --- I: a dead process's staging directory
fresh
for s in $(seq 0 9); do
    d="$lm/Trash/.$(date -u -d "+$s seconds" +%Y%m%dT%H%M%S)Z-${L1:0:8}.partial"; mkdir -p "$d"; printf x > "$d/.$L1.cer.tmp-99999-1"
done
cs remove "$L1" >/dev/null 2>&1
committed=$(ls "$lm/Trash" | grep -v '^\.' | grep "${L1:0:8}"); [ -n "$committed" ] && [ -z "$(ls -A "$lm/Trash/$committed" | grep tmp-)" ]
verdict I "a killed run's .partial within the same second: its temporary file not in the new entry" $?

# --- J: diagnose memory with sessions that never close
fresh; python3 - "$work/SEND-open.log" <<'EOF'
import sys
with open(sys.argv[1], "w", newline="") as f:
    f.write("#Fields: date-time,connector-id,session-id,sequence-number,local-endpoint,remote-endpoint,event,data,context\r\n")
    subject = "CN=" + "x" * 3000
    for i in range(50000):
        s = "08DE2F1A%08X" % i
        f.write(f"2026-11-28T09:00:00.000Z,Outbound,{s},0,192.168.0.78:28252,104.47.2.36:25,*,,Sending certificate\r\n")
        f.write(f"2026-11-28T09:00:00.001Z,Outbound,{s},1,192.168.0.78:28252,104.47.2.36:25,*,{subject},Certificate subject\r\n")
EOF
kb=$(/usr/bin/time -f '%M' "$bin" --root "$root" diagnose --protocol-log "$work/SEND-open.log" 2>&1 >/dev/null | tail -1)
[ "${kb:-999999}" -lt 130000 ]; verdict J "50,000 never-closed sessions (150 MB log): diagnose peak ${kb:-?} KB < 130 MB" $?

# --- K: probe --timeout against a dripping server
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
python3 - "$port" <<'EOF' &
import os, socket, sys, threading, time
threading.Timer(30, lambda: os._exit(0)).start()
srv = socket.socket(); srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); srv.bind(("127.0.0.1", int(sys.argv[1]))); srv.listen(4)
def drip(c):
    try:
        c.sendall(b"220-")
        while True: time.sleep(0.3); c.sendall(b"x")
    except OSError: pass
while True:
    c, _ = srv.accept(); threading.Thread(target=drip, args=(c,), daemon=True).start()
EOF
server=$!; sleep 1
start=$(date +%s.%N); timeout 20 "$bin" --root "$root" probe "smtp://127.0.0.1:$port" --timeout 2 >/dev/null 2>&1; end=$(date +%s.%N)
kill "$server" 2>/dev/null; wait "$server" 2>/dev/null
secs=$(python3 -c "print(round($end - $start, 1))")
python3 -c "import sys; sys.exit(0 if $secs < 6 else 1)"; verdict K "a server dripping a byte every 0.3 s: probe --timeout 2 ended after ${secs} s" $?

# --- L: the default root ./Stores as a foreign-owned link
fresh; mkdir -p "$work/cwd"; ln -s "$root" "$work/cwd/Stores"; chown -h 65534 "$work/cwd/Stores"
(cd "$work/cwd" && "$bin" list >/dev/null 2>&1); [ $? = 77 ]; verdict L "./Stores -> a store, owned by another user: not followed (77)" $?

printf '%s\n' "${results[@]}"
echo "$((${#results[@]} - failed)) of ${#results[@]} attacks held"
exit "$failed"
