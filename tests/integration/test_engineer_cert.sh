#!/usr/bin/env bash
# Short-lived engineer access (docs/roster.md, "Engineer certificates"): the roster names an
# engineer CA (`keys engineer ca`), `keys engineer cert` signs an OpenSSH user certificate, and
# real OpenSSH clients present it to the bastion and, through it, to the nodes' sshd (keys
# authorized-keys prints a cert-authority line for the engineer).  carol and dave have no key of
# their own in the roster: certificates only.  Checked at the bastion and, directly from the
# bastion host's namespace, at web-1's sshd:
#   - a valid certificate gets in (sshd logs its key ID), an uncertified key does not;
#   - a certificate of another CA, and one for another principal, are refused;
#   - an expired certificate is refused, and the bastion closes the session it opened when its
#     valid-before passes (audited "certificate expired");
#   - an engineer removed from the roster is refused with a still-valid certificate, and her
#     open jump closes ("access revoked");
#   - alice, who has a plain key, is untouched throughout.
# run-all: early (70 s, part of it waiting for a certificate to expire)
. "$(dirname "$0")/lib.sh"

# Long enough for the checks while carol's certificate is valid (2 s alone; under CI's load about
# three times that): the test logs the seconds they took.
CERT_S=20
need_bastion
bastion_net_init
bastion_nodes_add web-1
eng_add alice '*:22'

# A certificate-only engineer: an account and a key pair, no key in the roster.
eng_cert_only() {
	local n=$1
	eng_keygen "$n"
	keys_admin engineer add "$n" --allow web-1:22 >>"$T/keys.out" 2>>"$T/keys.err"
	ENG_UID[$n]=$((61000 + ${#ENG_NAMES[@]}))
	ENG_NAMES+=("$n")
	install -d -m 0755 -o "${ENG_UID[$n]}" -g "${ENG_UID[$n]}" "$T/home/$n"
}

rc=0; keys_admin engineer add carol --allow web-1:22 >/dev/null 2>"$T/e1" || rc=$?
assert_eq "an engineer without --ssh-key is refused while the roster has no CA" 1 "$rc"
assert_match "... saying how to make one" "keys engineer ca" "$(cat "$T/e1")"
keys_admin engineer ca >"$T/ca.line" 2>>"$T/keys.err"
assert_match "keys engineer ca prints the CA's public key" '^ssh-ed25519 [A-Za-z0-9+/]+=*$' "$(cat "$T/ca.line")"
assert_eq "... the private half is 0600" 600 "$(stat -c %a "$ADMIN/engineer-ca")"
assert_eq "... and the roster names it" "engineer-ca $(cat "$T/ca.line")" "$(grep '^engineer-ca ' "$ADMIN/roster")"
rc=0; keys_admin engineer ca >/dev/null 2>"$T/e2" || rc=$?
assert_eq "a second keys engineer ca without --force is refused" 1 "$rc"
eng_cert_only carol
eng_cert_only dave
# Many refused logins from the one engineer address are the point here: no PerSourcePenalties.
bastion_up "PerSourcePenalties = no"
check "the bastion runs with the CA's roster" wait_until 10 grep -q "roster serial $SERIAL" "$T/bastion.log"

# cert NAME [KEYS-ARGS...]: keys engineer cert for NAME's key, written where ssh looks for it
# ($T/ssh/NAME-cert.pub beside the identity $T/ssh/NAME).
cert() { local n=$1; shift; keys_admin engineer cert "$n" --ssh-key "$T/ssh/$n.pub" "$@" 2>>"$T/keys.err"; }
# direct NAME: NAME's ssh from the bastion host's namespace straight to web-1's sshd (what sshd
# decides, without the bastion); prints uname -n.
direct() {
	timeout -k 2 30 ip netns exec "${NS[jump]}" ssh -F "$T/ssh/$1.config" -i "$T/ssh/$1" \
		"$1@${OV4[web-1]}" uname -n 2>&1
}
jump() { eng_ssh "$1" -J "$1@bastion" web-1 uname -n 2>&1; }

out=$(jump carol) && rc=0 || rc=$?
assert_eq "carol without a certificate: the bastion refuses (exit 255)" 255 "$rc"
out=$(direct carol) && rc=0 || rc=$?
assert_eq "... and so does web-1's sshd" 255 "$rc"

rc=0; keys_admin engineer cert carol --ssh-key "$T/ssh/alice.pub" -o "$T/x" >/dev/null 2>"$T/e3" || rc=$?
assert_eq "keys engineer cert refuses to certify alice's key as carol" 1 "$rc"
assert_match "... naming its owner" "is engineer alice's key" "$(cat "$T/e3")"
rc=0; cert carol --valid 31d >/dev/null 2>&1 || rc=$?
assert_eq "... and a validity over 30 days (usage error)" 2 "$rc"
assert_eq "... writing nothing" "no" "$([ -e "$T/x" ] || [ -e "$T/ssh/carol-cert.pub" ] && echo yes || echo no)"
cert carol >/dev/null
assert_match "keys engineer cert wrote carol-cert.pub (an OpenSSH user certificate)" \
	'user certificate' "$(ssh-keygen -L -f "$T/ssh/carol-cert.pub" 2>&1)"
assert_match "... key ID carol@NETWORK" 'Key ID: "carol@' \
	"$(ssh-keygen -L -f "$T/ssh/carol-cert.pub" 2>&1 | tr -s ' ')"
carol_p=$(sed -n 's/^\tcert-principal //p' "$ADMIN/roster" | grep '^carol#' || true)
assert_match "... principal: carol's cert-principal in the roster" "^ +$carol_p\$" \
	"$(ssh-keygen -L -f "$T/ssh/carol-cert.pub" 2>&1 | sed -n '/Principals:/{n;p}')"
assert_match "keys show carol --json names it" "\"cert_principal\": \"$carol_p\"" \
	"$(keys_admin show carol --json)"
assert_eq "carol with her certificate jumps to web-1" web-1 "$(jump carol || true)"
assert_match "the bastion logged the certificate" "accepted certificate serial [0-9]+ for carol" \
	"$(cat "$T/bastion.log")"
carol_serial=$(ssh-keygen -L -f "$T/ssh/carol-cert.pub" | sed -n 's/^ *Serial: //p')
assert_ge "audit: cert_accept for carol, her key's fingerprint and the certificate's serial" 1 \
	"$(grep -F '"event":"cert_accept"' "$AUDIT_LOG" | grep -F '"engineer":"carol"' |
		grep -F "\"fingerprint\":\"$(ssh-keygen -l -f "$T/ssh/carol.pub" | awk '{ print $2 }')\"" |
		grep -cF "\"serial\":${carol_serial:-none}," || true)"
assert_eq "web-1's sshd takes carol's certificate directly too" web-1 "$(direct carol || true)"
check "... and logs its key ID (the certificate, not a key)" wait_until 5 grep -q "ID carol@" "$T/sshd-web-1.log"
assert_eq "alice (plain key) still jumps" web-1 "$(jump alice || true)"

# Another CA's certificate for carol; the roster's CA's certificate for someone else's name.
ssh-keygen -q -t ed25519 -N '' -C rogue -f "$T/rogue-ca"
mv "$T/ssh/carol-cert.pub" "$T/carol-good-cert.pub"
ssh-keygen -q -s "$T/rogue-ca" -I carol -n carol -V -5m:+1h "$T/ssh/carol.pub" 2>/dev/null
out=$(jump carol) && rc=0 || rc=$?
assert_eq "a certificate of another CA: the bastion refuses" 255 "$rc"
check "... saying so in the audit log" wait_until 5 bash -c "grep -F '\"event\":\"auth_reject\"' '$AUDIT_LOG' | grep -F '\"engineer\":\"carol\"' | grep -qF 'not signed by the roster'"
out=$(direct carol) && rc=0 || rc=$?
assert_eq "... and so does web-1's sshd" 255 "$rc"
# The roster's CA, but what keys engineer cert never signs: no port forwarding, or for a year.
ssh-keygen -q -s "$ADMIN/engineer-ca" -I carol -n "$carol_p" -O no-port-forwarding -V -5m:+1h \
	"$T/ssh/carol.pub" 2>/dev/null
out=$(jump carol) && rc=0 || rc=$?
assert_eq "a certificate without permit-port-forwarding: the bastion refuses" 255 "$rc"
ssh-keygen -q -s "$ADMIN/engineer-ca" -I carol -n "$carol_p" -V -5m:+52w "$T/ssh/carol.pub" 2>/dev/null
out=$(jump carol) && rc=0 || rc=$?
assert_eq "a certificate valid for a year: the bastion refuses" 255 "$rc"
check "... both audited" wait_until 5 bash -c "[ \$(grep -F '\"engineer\":\"carol\"' '$AUDIT_LOG' | grep -cE 'permit-port-forwarding|more than 30 days') -ge 2 ]"
cert carol -o "$T/ssh/carol-cert.pub" --force >/dev/null
# dave logging in with carol's key and certificate (a config whose identity is a copy of them:
# a jump's own ssh takes its identity from the config, not from -i).
cp "$T/ssh/carol" "$T/ssh/swap" && cp "$T/ssh/carol-cert.pub" "$T/ssh/swap-cert.pub"
sed "s|IdentityFile $T/ssh/dave\$|IdentityFile $T/ssh/swap|" "$T/ssh/dave.config" >"$T/ssh/swap.config"
swap() {
	timeout -k 2 30 ip netns exec "$1" ssh -F "$T/ssh/swap.config" -i "$T/ssh/swap" "${@:2}" \
		uname -n 2>&1
}
out=$(swap "$ENG" -J dave@bastion web-1) && rc=0 || rc=$?
assert_eq "carol's certificate presented as dave: the bastion refuses" 255 "$rc"
check "... (not for principal dave)" wait_until 5 bash -c "grep -F '\"event\":\"auth_reject\"' '$AUDIT_LOG' | grep -F '\"engineer\":\"dave\"' | grep -qF 'not for principal'"
out=$(swap "${NS[jump]}" "dave@${OV4[web-1]}") && rc=0 || rc=$?
assert_eq "... and so does web-1's sshd" 255 "$rc"

# Expiry: a certificate valid CERT_S seconds; a jump held open across its end.
cert carol --valid "${CERT_S}s" -o "$T/ssh/carol-cert.pub" >/dev/null
t_cert=$(date +%s)
assert_eq "a ${CERT_S}-second certificate gets carol in" web-1 "$(jump carol || true)"
jump_hold carol web-1 $((CERT_S + 30)) "$T/carol.jump"
carol_pid=$JUMP_PID
# Released (jump_release) once carol's end is checked; the seconds only bound it.
jump_hold alice web-1 $((CERT_S + 60)) "$T/alice.jump"
log "the checks while carol's certificate was valid took $(( $(date +%s) - t_cert )) s of its $CERT_S"
# ssh-keygen's valid-before is the second the certificate was signed plus CERT_S.
while [ "$(date +%s)" -lt $((t_cert + CERT_S)) ]; do sleep 0.2; done
closed=$(exit_ms "$carol_pid" 5)
log "carol's open jump closed $closed ms after her certificate's valid-before"
assert_le "the bastion closed carol's session within 2 s of her certificate's end" 2000 "${closed/timeout/999999}"
check "audit: carol's session closed as 'certificate expired'" wait_until 5 \
	bash -c "grep -F '\"engineer\":\"carol\"' '$AUDIT_LOG' | grep -qF '\"reason\":\"certificate expired\"'"
out=$(jump carol) && rc=0 || rc=$?
assert_eq "the expired certificate: the bastion refuses" 255 "$rc"
check "... audited as expired" wait_until 5 bash -c "grep -F '\"event\":\"auth_reject\"' '$AUDIT_LOG' | grep -F '\"engineer\":\"carol\"' | grep -qF 'certificate expired at'"
out=$(direct carol) && rc=0 || rc=$?
assert_eq "... and so does web-1's sshd" 255 "$rc"
jump_release "$T/alice.jump"
check "alice's open jump runs to its end" wait_until 20 grep -q '^done' "$T/alice.jump"

# Removal: dave holds a certificate valid for hours; removed from the roster, it is worthless.
cert dave -o "$T/ssh/dave-cert.pub" >/dev/null
assert_eq "dave with his certificate jumps to web-1" web-1 "$(jump dave || true)"
assert_eq "... and reaches web-1's sshd directly" web-1 "$(direct dave || true)"
jump_hold dave web-1 120 "$T/dave.jump"
dave_pid=$JUMP_PID
keys_admin engineer remove dave >>"$T/keys.out" 2>>"$T/keys.err"
roster_publish
roster_hand web-1
roster_hand jump
check "web-1 and jump at serial $SERIAL" wait_until 30 all_at_serial "$SERIAL" web-1 jump
check "dave's open jump closes once the bastion has the roster" wait_until 10 bash -c "! kill -0 $dave_pid 2>/dev/null"
check "audit: dave's session closed as 'access revoked'" wait_until 5 \
	bash -c "grep -F '\"engineer\":\"dave\"' '$AUDIT_LOG' | grep -qF '\"reason\":\"access revoked\"'"
out=$(jump dave) && rc=0 || rc=$?
assert_eq "dave, removed, with a valid certificate: the bastion refuses" 255 "$rc"
out=$(direct dave) && rc=0 || rc=$?
assert_eq "... and so does web-1's sshd" 255 "$rc"
# Added again (the same person back, or another dave): his old certificate stays dead.
keys_admin engineer add dave --allow web-1:22 >>"$T/keys.out" 2>>"$T/keys.err"
# carol gets a fresh certificate, then has every certificate revoked (a stolen laptop).
cert carol -o "$T/ssh/carol-cert.pub" >/dev/null
roster_publish
roster_hand web-1
roster_hand jump
check "web-1 and jump at serial $SERIAL" wait_until 30 all_at_serial "$SERIAL" web-1 jump
check "the bastion has serial $SERIAL" wait_until 10 grep -q "roster serial $SERIAL applied" "$T/bastion.log"
out=$(jump dave) && rc=0 || rc=$?
assert_eq "dave added again: his certificate from before the removal is refused at the bastion" 255 "$rc"
out=$(direct dave) && rc=0 || rc=$?
assert_eq "... and at web-1's sshd" 255 "$rc"
assert_eq "carol with a fresh certificate jumps" web-1 "$(jump carol || true)"
jump_hold carol web-1 60 "$T/carol2.jump"
carol_pid=$JUMP_PID
keys_admin engineer set carol --revoke-certs >>"$T/keys.out" 2>>"$T/keys.err"
roster_publish
roster_hand web-1
roster_hand jump
check "web-1 and jump at serial $SERIAL" wait_until 30 all_at_serial "$SERIAL" web-1 jump
check "keys engineer set --revoke-certs: carol's open jump closes" wait_until 10 bash -c "! kill -0 $carol_pid 2>/dev/null"
out=$(jump carol) && rc=0 || rc=$?
assert_eq "... her certificate is refused at the bastion" 255 "$rc"
out=$(direct carol) && rc=0 || rc=$?
assert_eq "... and at web-1's sshd" 255 "$rc"
assert_eq "alice still jumps" web-1 "$(jump alice || true)"

check "bastion still running" pid_alive "$BASTION_PID"
bastion_stop || true
out=$(audit_verify "$AUDIT_LOG" || true)
assert_match "keys audit verify: the run's log verifies" '^OK: ' "$out"
finish
