#!/bin/sh
# certbot (Debian's) issuing and renewing against a local Pebble, with certstore's deploy hook: the README's
# "Already on certbot" section is this script's output. Needs `make acme-deps` and a built certstore
# (CERTSTORE=path, default .build/debug/certstore). Everything lives in a temporary directory, removed at exit.
set -eu
CERTSTORE=$(realpath "${CERTSTORE:-.build/debug/certstore}")
work=$(mktemp -d /tmp/certstore-certbot-demo.XXXXXX)
pids=""
cleanup() { for p in $pids; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT INT TERM
cd "$work"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 100); do python3 -c "import socket,sys; socket.create_connection(('127.0.0.1',$1),0.2)" 2>/dev/null && return 0; sleep 0.1; done; echo "port $1 never opened" >&2; exit 1; }

# Pebble ships no certificate for its own listener: a throwaway CA and leaf for 127.0.0.1.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -out ca.pem -days 2 -subj "/CN=demo Pebble listener CA" 2>/dev/null
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout listener.key -out listener.csr -subj /CN=localhost 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n' > listener.ext
openssl x509 -req -in listener.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -extfile listener.ext -out listener.pem 2>/dev/null
acme=$(free_port) mgmt=$(free_port) http=$(free_port) tls=$(free_port) dns=$(free_port) dnsmgmt=$(free_port)
cat > pebble.json <<JSON
{"pebble": {"listenAddress": "127.0.0.1:$acme", "managementListenAddress": "127.0.0.1:$mgmt", "certificate": "listener.pem",
 "privateKey": "listener.key", "httpPort": $http, "tlsPort": $tls, "ocspResponderURL": "", "externalAccountBindingRequired": false}}
JSON
pebble-challtestsrv -dns01 127.0.0.1:$dns -http01 "" -https01 "" -tlsalpn01 "" -management 127.0.0.1:$dnsmgmt \
  -defaultIPv4 127.0.0.1 -defaultIPv6 "" >challtestsrv.log 2>&1 & pids="$pids $!"
wait_port $dnsmgmt
PEBBLE_VA_NOSLEEP=1 PEBBLE_WFE_NONCEREJECT=0 pebble -config pebble.json -dnsserver 127.0.0.1:$dns >pebble.log 2>&1 & pids="$pids $!"
wait_port $acme

sed -e "s|@BINDIR@/certstore|$CERTSTORE|" -e "s|@DATADIR@|/usr/local/share/certstore|" "$OLDPWD/dist/certbot/deploy-hook.in" > deploy-hook
chmod 755 deploy-hook
export REQUESTS_CA_BUNDLE="$work/ca.pem" CERTSTORE_ROOT="$work/store"
certbot_() { certbot "$@" --non-interactive --agree-tos --register-unsafely-without-email --server "https://127.0.0.1:$acme/dir" \
  --config-dir le --work-dir le-work --logs-dir le-logs --http-01-address 127.0.0.1 --http-01-port "$http"; }
show() { printf '\n$ certstore %s\n' "$*"; "$CERTSTORE" "$@" 2>&1 | sed "s|$work/||g"; }
quiet() { grep -vE "^(Saving debug|Processing|- - -|Renewing an existing|Requesting a certificate|Account registered|This certificate expires|These files will|NEXT STEPS|We were unable|If you like Certbot| \* Donating|Certbot has set up|\* |  [*-] |$)" | sed "s|$work/||g" || true; }

printf '$ certbot certonly --standalone -d mail.example.org --deploy-hook /usr/local/share/certstore/certbot/deploy-hook\n'
certbot_ certonly --standalone -d mail.example.org --deploy-hook "$work/deploy-hook" 2>&1 | quiet
first=$("$CERTSTORE" list --property Thumbprint --format csv | tail -1 | tr -d '"')
show enable "$first" --services SMTP,IMAP --overwrite-default
printf '\n$ certbot renew --force-renewal    # what the certbot timer runs when the certificate is due\n'
certbot_ renew --force-renewal --no-random-sleep-on-renew 2>&1 | quiet
show bindings
show list --include-archived --property Thumbprint,Archived,NotAfter,HasPrivateKey
