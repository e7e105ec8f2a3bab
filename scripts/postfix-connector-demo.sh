#!/usr/bin/env bash
# The KB 4495258 failure and its fix on a real postfix, from a copy of the demo store (./Stores).
#
# usage: sudo scripts/postfix-connector-demo.sh [CERTSTORE_BINARY]
#
# Two private postfix instances on loopback (never the system's): a sender whose send connector "Outbound to
# Office 365" has its own smtp transport reading the connector's service files, and a receiver
# (mx.fabrikam.com) that asks every client for a certificate and logs its SHA-1 fingerprint. The connector's
# TLSCertificateName resolves to the keyless mail.contoso.com certificate: postfix defers the mail with a TLS
# error. Then the audit's remediation plan runs as printed, the connector's files switch to the renewed twin,
# a hook reloads postfix, and `postqueue -f` delivers — the receiver saw the twin. Prints what it runs and
# what it sees (the README shows this output). Needs root and Debian's postfix (`make mail-deps`).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
certstore=${1:-$repo/.build/debug/certstore}
[ "$(id -u)" = 0 ] || { echo "run as root (postfix instances need it)" >&2; exit 77; }
[ -x /usr/sbin/postfix ] || { echo "postfix is not installed: make mail-deps" >&2; exit 69; }
[ -x "$certstore" ] || { echo "no certstore binary at $certstore: make build" >&2; exit 69; }

# Short paths: postfix's UNIX sockets live under each queue directory (108 bytes at most).
work=$(mktemp -d /tmp/csdemo.XXXX)
chmod 755 "$work"
cleanup() {
  [ -n "${KEEP:-}" ] && { echo "kept $work"; return; }
  for i in tx rx; do [ -d "$work/$i/conf" ] && /usr/sbin/postfix -c "$work/$i/conf" stop >/dev/null 2>&1 || true; done
  rm -rf "$work"
}
trap cleanup EXIT

cp -a "$repo/Stores" "$work/root"
# git keeps no file modes: give the demo keys the modes certstore writes (as `make demo` does).
chmod 700 "$work/root/LocalMachine/Keys"; chmod 600 "$work/root/LocalMachine/Keys/"*.key "$work/root/LocalMachine/Services/"*/v*/privkey.pem
root=$work/root
cs() { echo "\$ certstore $(printf '%q ' "$@")--root /tmp/csdemo/root" | sed "s#$work#/tmp/csdemo#g"; "$certstore" "$@" --root "$root" 2>&1 | sed "s#$work#/tmp/csdemo#g"; }
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

instance() { # name host port extra-main extra-master
  local dir=$work/$1
  mkdir -p "$dir/conf" "$dir/queue" "$dir/data"
  chown postfix:postfix "$dir/data"
  cat > "$dir/conf/main.cf" <<EOF
compatibility_level = 3.6
queue_directory = $dir/queue
data_directory = $dir/data
mail_owner = postfix
setgid_group = postdrop
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
myhostname = $2
maillog_file_prefixes = $dir
maillog_file = $dir/maillog
$4
EOF
  sed "s/^smtp      inet.*/127.0.0.1:$3 inet n - n - - smtpd/" /etc/postfix/master.cf > "$dir/conf/master.cf"
  printf '%s' "$5" >> "$dir/conf/master.cf"
  [ -n "${6:-}" ] || /usr/sbin/postfix -c "$dir/conf" start >/dev/null 2>&1
}

wait_for() { # file pattern
  for _ in $(seq 1 150); do grep -q -- "$2" "$1" 2>/dev/null && return 0; sleep 0.2; done
  echo "(timed out waiting for \"$2\" in $1)" >&2; return 1
}

# The receiver: mx.fabrikam.com, client certificates asked for and logged.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$work/mx.key" -out "$work/mx.pem" \
  -subj /CN=mx.fabrikam.com -days 2 2>/dev/null
rx_port=$(port)
instance rx mx.fabrikam.com "$rx_port" "mydestination = fabrikam.com
local_recipient_maps =
local_transport = discard:
smtpd_tls_chain_files = $work/mx.key, $work/mx.pem
smtpd_tls_security_level = may
smtpd_tls_ask_ccert = yes
smtpd_tls_loglevel = 2
smtpd_tls_fingerprint_digest = sha1" ""

echo "# The send connector carries fabrikam.com to the receiver on loopback:"
cs connector set "Outbound to Office 365" --address-space fabrikam.com --smart-host "[127.0.0.1]:$rx_port" | grep -v "^[A-Za-z]* *: *$" | sed '/^$/d'
echo
echo "# postfix: certstore's main.cf lines, the connector's master.cf transport and the transport map:"
cs service-config postfix --master-cf
"$certstore" service-config postfix --transport-map --root "$root" > "$work/transport"
echo "\$ certstore service-config postfix --transport-map --root /tmp/csdemo/root"; cat "$work/transport"
instance tx mail.contoso.com "$(port)" "mydestination =
transport_maps = texthash:$work/transport" "$("$certstore" service-config postfix --master-cf --root "$root")
" configure-only
# service-config reads the sender's own main.cf and prints only what it lacks; postconf -e applies it.
"$certstore" service-config postfix --config "$work/tx/conf" --root "$root" | grep -v '^#' | grep . | while IFS= read -r line; do
  /usr/sbin/postconf -c "$work/tx/conf" -e "$line"
done
/usr/sbin/postfix -c "$work/tx/conf" start >/dev/null 2>&1
mkdir -p "$root/LocalMachine/Hooks"
printf '#!/bin/sh\n[ -n "$CERTSTORE_CONNECTOR" ] || exit 0\nexec /usr/sbin/postfix -c %s reload\n' "$work/tx/conf" > "$root/LocalMachine/Hooks/10-reload-postfix"
chmod 755 "$root/LocalMachine/Hooks/10-reload-postfix"

echo
echo "# A message to user@fabrikam.com leaves through the connector's transport, which has no key to present:"
printf 'Subject: quarterly report\n\nhello\n' | /usr/sbin/sendmail -C "$work/tx/conf" -f admin@contoso.com user@fabrikam.com
wait_for "$work/tx/maillog" "status=deferred"
grep "certstore-outbound-to-office-365" "$work/tx/maillog" | sed -E 's/^[A-Z][a-z]{2} [ 0-9]{2} [0-9:]{8} //; s#'"$work"'#/tmp/csdemo#g'
echo
echo "# certstore explains it from postfix's log:"
cs diagnose --log "$work/tx/maillog" || true
echo
echo "# The audit's remediation plan, run as printed:"
plan=$("$certstore" audit --format json --root "$root" | python3 -c 'import json,sys; print("\n".join(json.load(sys.stdin)["remediationPlan"]))' || true)
while IFS= read -r step; do
  [ -n "$step" ] || continue
  echo "\$ ${step//$work//tmp/csdemo}"
  eval "${step/certstore /\"\$certstore\" }" 2>&1 | sed "s#$work#/tmp/csdemo#g"
done <<< "$plan"
echo
echo "# The queue is retried (Exchange: Retry-Queue):"
echo "\$ postqueue -f"
/usr/sbin/postqueue -c "$work/tx/conf" -f
wait_for "$work/tx/maillog" "status=sent"
grep "certstore-outbound-to-office-365/smtp.*status=sent" "$work/tx/maillog" | sed -E 's/^[A-Z][a-z]{2} [ 0-9]{2} [0-9:]{8} //'
wait_for "$work/rx/maillog" "fingerprint="
echo "# mx.fabrikam.com saw this client certificate:"
grep -o "subject_CN=.*fingerprint=[0-9A-F:]*," "$work/rx/maillog" | head -1
