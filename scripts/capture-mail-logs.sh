#!/usr/bin/env bash
# Makes the mail-log fixtures in Tests/CertStoreTests/Fixtures/MailLogs from the daemons themselves: Debian 12's
# postfix, dovecot and exim4 (GnuTLS build) on loopback ports are given broken key/certificate files and clients
# that fail TLS in the ways `certstore diagnose` explains, and their logs are collected as admins have them:
#
#   mail.log                  rsyslog's default file format on Debian 12 (RSYSLOG_FileFormat), fed by journald
#   mail-traditional.log      the same messages in RSYSLOG_TraditionalFileFormat ("Dec  3 12:00:00 host ...")
#   journal-short-iso.log     journalctl -o short-iso of the journal systemd-journald wrote
#   postfix-maillog_file.log  postfix's own maillog_file (postlogd)
#   dovecot.log               dovecot's own log_path file
#   exim4-mainlog.log         exim's mainlog (Debian's /var/log/exim4/mainlog)
#
# Usage (root, on a scratch machine): scripts/capture-mail-logs.sh [OUTPUT-DIR]
# Needs: postfix, dovecot-imapd, dovecot-pop3d, rsyslog, systemd (journald), openssl, and exim4 from
# `make exim4-private` (exim4 conflicts with postfix as Debian's MTA, so it is unpacked, never installed).
# Everything runs in a private mount and UTS namespace (hostname "mail", a private /dev whose /dev/log is this
# run's journald, journald forwarding to this run's rsyslogd): the machine's own logging is not touched.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
out=$(realpath -m "${1:-$here/Tests/CertStoreTests/Fixtures/MailLogs}")
W=/tmp/certstore-maillogs
EXIM=${EXIM:-$here/.build-deps/exim4/usr/sbin/exim4}

if [ "${CAPTURE_INSIDE:-}" != 1 ]; then
  [ "$(id -u)" = 0 ] || { echo "run as root (daemons, namespaces)" >&2; exit 1; }
  for tool in /usr/sbin/postfix /usr/sbin/dovecot /usr/sbin/rsyslogd /lib/systemd/systemd-journald "$EXIM"; do
    [ -x "$tool" ] || { echo "missing $tool (see the header of $0)" >&2; exit 1; }
  done
  getent passwd Debian-exim >/dev/null || { echo "no Debian-exim account: make exim4-private" >&2; exit 1; }
  rm -rf "$W"; mkdir -p "$W" "$out"
  CAPTURE_INSIDE=1 exec unshare --mount --uts --propagation private "$0" "$out"
fi

hostname mail
cd "$W"

# --- a private /dev with /dev/log, journald and rsyslogd -------------------------------------------------------
mkdir -p olddev
mount --rbind /dev olddev
mount -t tmpfs -o mode=755 tmpfs /dev
for n in null zero random urandom full tty; do touch /dev/$n; mount --bind olddev/$n /dev/$n; done
mkdir /dev/pts /dev/shm; mount --rbind olddev/pts /dev/pts; mount --bind olddev/shm /dev/shm
ln -s /proc/self/fd /dev/fd; ln -s fd/0 /dev/stdin; ln -s fd/1 /dev/stdout; ln -s fd/2 /dev/stderr
ln -s /run/systemd/journal/dev-log /dev/log
# exim re-executes itself as /usr/sbin/exim4 (its compiled-in path): put the unpacked binary there, for this
# namespace only.
mkdir -p sbin-exim sbin-upper sbin-work
cp -a "$EXIM" sbin-exim/exim4
mount -t overlay overlay -o lowerdir=$W/sbin-exim:/usr/sbin /usr/sbin
EXIM=/usr/sbin/exim4
mkdir -p /run/systemd/journal /run/log journal
mount -t tmpfs tmpfs /run/systemd/journal
mount -t tmpfs tmpfs /run/log
mount --bind "$W/journal" /var/log/journal
printf '[Journal]\nStorage=persistent\nReadKMsg=no\nForwardToSyslog=yes\nRateLimitBurst=0\n' > journald.conf
mount --bind "$W/journald.conf" /etc/systemd/journald.conf
/lib/systemd/systemd-journald >/dev/null 2>&1 &
journald=$!
cat > rsyslog.conf <<EOF
module(load="imuxsock" SysSock.Use="off")
input(type="imuxsock" Socket="/run/systemd/journal/syslog")
\$WorkDirectory $W
mail.*    $W/mail.log
mail.*    $W/mail-traditional.log;RSYSLOG_TraditionalFileFormat
EOF
/usr/sbin/rsyslogd -n -f "$W/rsyslog.conf" -i "$W/rsyslogd.pid" &
rsyslogd=$!
sleep 1

# --- certificates ------------------------------------------------------------------------------------------------
P=$W/pki; mkdir -p $P; cd $P
quiet() { "$@" >/dev/null 2>&1; }
quiet openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 3650 -subj "/O=Contoso Ltd/CN=Contoso Issuing CA 1"
quiet openssl req -x509 -newkey rsa:2048 -nodes -keyout evil-ca.key -out evil-ca.pem -days 3650 -subj "/CN=Fabrikam Untrusted CA"
for n in mail other; do
  quiet openssl req -newkey rsa:2048 -nodes -keyout $n.key -out $n.csr -subj "/O=Contoso Ltd/CN=mail.contoso.com"
  quiet openssl x509 -req -in $n.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 365 -out $n.pem
done
quiet openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ec.key -out ec.csr -subj "/CN=mail.contoso.com"
quiet openssl x509 -req -in ec.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 365 -out ec.pem
quiet openssl req -newkey rsa:2048 -nodes -keyout client.key -out client.csr -subj "/CN=client.fabrikam.com"
quiet openssl x509 -req -in client.csr -CA evil-ca.pem -CAkey evil-ca.key -CAcreateserial -days 365 -out client.pem
printf 'not a certificate\n' > garbage.pem
cd "$W"

# A client that speaks STARTTLS (or TLS on connect) and fails as told.
client() { local mode=$1 port=$2; shift 2
  case $mode in
    smtp|imap|pop3) echo QUIT | timeout 10 openssl s_client -starttls "$mode" -connect 127.0.0.1:"$port" "$@" >/dev/null 2>&1 || true;;
    tls) echo | timeout 10 openssl s_client -connect 127.0.0.1:"$port" "$@" >/dev/null 2>&1 || true;;
  esac; }

# --- postfix -----------------------------------------------------------------------------------------------------
# pf NAME PORT LOGFILE|- "main.cf lines": a private instance, smtpd on 127.0.0.1:PORT, no chroot.
pf() { local d=$W/postfix/$1 port=$2
  mkdir -p $d/conf $d/queue $d/data; chown postfix:postfix $d/data
  { cat <<EOF
compatibility_level = 3.6
queue_directory = $d/queue
data_directory = $d/data
mail_owner = postfix
setgid_group = postdrop
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
myhostname = mail.contoso.com
smtp_dns_support_level = disabled
alias_maps =
notify_classes =
EOF
    [ "$3" = - ] || printf 'maillog_file_prefixes = %s\nmaillog_file = %s\n' "$W" "$3"
    printf '%s\n' "$4"; } > $d/conf/main.cf
  sed -e "s/^smtp      inet.*/127.0.0.1:$port inet n - n - - smtpd/" \
      -e 's/^\([a-z0-9]*\( \+[^ ]\+\)\{3\}\) \+y /\1 n /' /etc/postfix/master.cf > $d/conf/master.cf
  /usr/sbin/postfix -c $d/conf start >/dev/null 2>&1
  PF_INSTANCES="${PF_INSTANCES:-} $d"; }
send() { printf 'Subject: test\n\nhello\n' | /usr/sbin/sendmail -C $W/postfix/$1/conf -f sender@contoso.com user@contoso.test; }

# Inbound: smtpd's key and certificate files, and clients it cannot agree with.
pf chain-missing 2531 - "smtpd_tls_security_level = may
smtpd_tls_chain_files = $W/services/SMTP/current/privkey.pem, $W/services/SMTP/current/fullchain.pem"
pf legacy-missing 2532 - "smtpd_tls_security_level = may
smtpd_tls_cert_file = $P/mail.pem
smtpd_tls_key_file = $P/missing.key"
pf legacy-mismatch 2533 - "smtpd_tls_security_level = may
smtpd_tls_cert_file = $P/mail.pem
smtpd_tls_key_file = $P/other.key"
pf chain-mismatch 2534 - "smtpd_tls_security_level = may
smtpd_tls_chain_files = $P/other.key, $P/mail.pem"
pf garbage 2535 - "smtpd_tls_security_level = may
smtpd_tls_cert_file = $P/garbage.pem
smtpd_tls_key_file = $P/mail.key"
pf ecdsa 2536 - "smtpd_tls_security_level = may
smtpd_tls_chain_files = $P/ec.key, $P/ec.pem"
pf tls13 2537 - "smtpd_tls_security_level = may
smtpd_tls_protocols = >=TLSv1.3
smtpd_tls_chain_files = $P/mail.key, $P/mail.pem"
pf maillog 2538 $W/postfix-maillog_file.log "smtpd_tls_security_level = may
smtpd_tls_chain_files = $W/services/SMTP/current/privkey.pem, $W/services/SMTP/current/fullchain.pem"
# A receiver that requires client certificates from Contoso's CA, and one that speaks TLS 1.3 only.
pf recv 2540 - "smtpd_tls_security_level = encrypt
smtpd_tls_req_ccert = yes
smtpd_tls_CAfile = $P/ca.pem
smtpd_tls_chain_files = $P/mail.key, $P/mail.pem
smtpd_tls_loglevel = 1
mydestination = contoso.test
local_recipient_maps ="
pf recv13 2541 - "smtpd_tls_security_level = may
smtpd_tls_protocols = >=TLSv1.3
smtpd_tls_chain_files = $P/mail.key, $P/mail.pem
mydestination = contoso.test
local_recipient_maps ="
# Outbound: postfix/smtp relaying to them.
pf out-untrusted 2550 - "relayhost = [127.0.0.1]:2540
smtp_tls_security_level = encrypt
smtp_tls_loglevel = 1
smtp_tls_chain_files = $P/client.key, $P/client.pem"
pf out-nocert 2551 - "relayhost = [127.0.0.1]:2540
smtp_tls_security_level = encrypt"
pf out-verify 2552 - "relayhost = [127.0.0.1]:2540
smtp_tls_security_level = verify
smtp_tls_CAfile = $P/evil-ca.pem
smtp_tls_chain_files = $P/mail.key, $P/mail.pem"
pf out-missing 2553 - "relayhost = [127.0.0.1]:2540
smtp_tls_security_level = encrypt
smtp_tls_chain_files = $W/services/connector/current/privkey.pem, $W/services/connector/current/fullchain.pem"
pf out-legacy-missing 2554 - "relayhost = [127.0.0.1]:2540
smtp_tls_security_level = encrypt
smtp_tls_cert_file = $P/mail.pem
smtp_tls_key_file = $P/missing.key"
pf out-protocol 2555 - "relayhost = [127.0.0.1]:2541
smtp_tls_security_level = encrypt
smtp_tls_mandatory_protocols = <=TLSv1.2"
sleep 2

client smtp 2531
client smtp 2532
client smtp 2533
client smtp 2534
client smtp 2535
client smtp 2536 -tls1_2 -cipher aRSA
client smtp 2537 -tls1_2
client smtp 2537 -verify_return_error -CAfile $P/evil-ca.pem
client smtp 2538
client smtp 2540
client smtp 2540 -cert $P/client.pem -key $P/client.key
for s in out-untrusted out-nocert out-verify out-missing out-legacy-missing out-protocol; do send $s; done
sleep 5

# --- dovecot -----------------------------------------------------------------------------------------------------
dc_conf() { # FILE LOG-PATH IMAP-PORT IMAPS-PORT POP3-PORT CERT KEY [extra]
  mkdir -p $W/dovecot/run-$3
  cat > $1 <<EOF
base_dir = $W/dovecot/run-$3/
log_path = $2
protocols = imap pop3
listen = 127.0.0.1
ssl = yes
ssl_cert = <$6
ssl_key = <$7
${8:-}
passdb {
  driver = static
  args = password=x
}
userdb {
  driver = static
  args = uid=nobody gid=nogroup home=$W/dovecot/home/%u
}
service imap-login {
  inet_listener imap {
    port = $3
  }
  inet_listener imaps {
    port = $4
  }
}
service pop3-login {
  inet_listener pop3 {
    port = $5
  }
  inet_listener pop3s {
    port = 0
  }
}
EOF
}
mkdir -p $W/dovecot
# Logging to syslog (Debian's default): a key that belongs to another certificate, then an ECDSA-only server
# with clients it cannot agree with, then a reload after the key file went away.
dc_conf $W/dovecot/mismatch.conf syslog 2143 2993 2110 $P/mail.pem $P/other.key
dovecot -c $W/dovecot/mismatch.conf
sleep 1
client imap 2143; client tls 2993; client pop3 2110
doveadm -c $W/dovecot/mismatch.conf stop; sleep 1
cp $P/ec.key $W/dovecot/ec.key
dc_conf $W/dovecot/ec.conf syslog 2144 2994 2111 $P/ec.pem $W/dovecot/ec.key "ssl_min_protocol = TLSv1.2"
dovecot -c $W/dovecot/ec.conf
sleep 1
client imap 2144 -tls1_2 -cipher aRSA
client tls 2994 -verify_return_error -CAfile $P/evil-ca.pem
client pop3 2111 -tls1_1
rm $W/dovecot/ec.key; doveadm -c $W/dovecot/ec.conf reload; sleep 1
doveadm -c $W/dovecot/ec.conf stop; sleep 1
# Logging to its own file: a key that belongs to another certificate, a certificate file that is not PEM.
dc_conf $W/dovecot/file1.conf $W/dovecot.log 2146 2996 2113 $P/mail.pem $P/other.key
dovecot -c $W/dovecot/file1.conf; sleep 1
client imap 2146; client pop3 2113
doveadm -c $W/dovecot/file1.conf stop; sleep 1
dc_conf $W/dovecot/file2.conf $W/dovecot.log 2147 2997 2114 $P/garbage.pem $P/mail.key
dovecot -c $W/dovecot/file2.conf; sleep 1
client imap 2147
doveadm -c $W/dovecot/file2.conf stop; sleep 1

# --- exim4 (GnuTLS) ------------------------------------------------------------------------------------------------
E=$W/exim; mkdir -p $E/spool $E/log $E/keys
cp $P/{mail.pem,mail.key,other.key,ec.pem,ec.key,garbage.pem,client.pem,client.key} $E/keys/
chgrp Debian-exim $E/keys/*; chmod 640 $E/keys/*
cp $P/mail.key $E/keys/root-only.key; chmod 600 $E/keys/root-only.key
chown -R Debian-exim:Debian-exim $E/spool $E/log
exim_conf() { # PORT CERT KEY [extra main options]
  cat > $E/exim-$1.conf <<EOF
primary_hostname = mail.contoso.com
spool_directory = $E/spool-$1
log_file_path = $E/log/%slog
notifier_socket = $E/notify-$1
daemon_smtp_ports = $1
local_interfaces = 127.0.0.1
tls_advertise_hosts = *
tls_certificate = $2
tls_privatekey = $3
keep_environment =
${4:-}
begin routers
smarthost:
  driver = manualroute
  route_list = * 127.0.0.1
  self = send
  transport = remote_smtp
begin transports
remote_smtp:
  driver = smtp
  port = 2540
  hosts_require_tls = *
  tls_certificate = $E/keys/mail.pem
  tls_privatekey = $E/keys/mail.key
  tls_verify_certificates = $E/keys/client.pem
  tls_verify_hosts = *
EOF
  mkdir -p $E/spool-$1; chown Debian-exim:Debian-exim $E/spool-$1; }
K=$E/keys
exim_conf 2626 $K/mail.pem $K/root-only.key
exim_conf 2627 $K/mail.pem $K/other.key
exim_conf 2628 $K/mail.pem $K/missing.key
exim_conf 2629 $K/garbage.pem $K/mail.key
exim_conf 2630 $K/ec.pem $K/ec.key
exim_conf 2631 $K/mail.pem $K/mail.key "tls_require_ciphers = NORMAL:-VERS-ALL:+VERS-TLS1.3"
for port in 2626 2627 2628 2629 2630 2631; do "$EXIM" -C $E/exim-$port.conf -bd -oP $E/exim-$port.pid; done
sleep 1
client smtp 2626; client smtp 2627; client smtp 2628; client smtp 2629
client smtp 2630 -tls1_2 -cipher aRSA
client smtp 2631 -tls1_2
client smtp 2631 -verify_return_error -CAfile $P/evil-ca.pem
# Outbound: exim's smtp transport relays to the postfix receiver and cannot verify its certificate.
printf 'Subject: test\n\nhello\n' | "$EXIM" -C $E/exim-2626.conf -odf -f sender@contoso.com user@contoso.test || true
sleep 1
for port in 2626 2627 2628 2629 2630 2631; do kill "$(cat $E/exim-$port.pid)" 2>/dev/null || true; done

# --- stop, collect -----------------------------------------------------------------------------------------------
for d in $PF_INSTANCES; do /usr/sbin/postfix -c $d/conf stop >/dev/null 2>&1 || true; done
sleep 2
journalctl --flush >/dev/null 2>&1 || true
kill $rsyslogd $journald; wait $rsyslogd $journald 2>/dev/null || true
cp mail.log mail-traditional.log postfix-maillog_file.log dovecot.log "$out/"
cp $E/log/mainlog "$out/exim4-mainlog.log"
journalctl -D "$W/journal" -o short-iso > "$out/journal-short-iso.log"
echo "captured into $out:"; wc -l "$out"/*.log
