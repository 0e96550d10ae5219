#!/usr/bin/env bash
# `make demo`, part 2: the bastion.  An engineer whose namespace reaches only the bastion's public
# address (203.0.113.1) jumps with the ordinary OpenSSH client to a node reachable only over the
# overlay; the node's own sshd trusts the roster (keys authorized-keys).  Then the audit log.
# Needs root.  Everything it creates is removed on exit.
. "$(dirname "$0")/integration/lib.sh"

need_bastion
if [ -t 1 ]; then B=$'\033[1m' N=$'\033[0m'; else B= N=; fi
step() { printf '\n%s== %s%s\n' "$B" "$*" "$N"; }
show() { sed 's/^/     /'; }

step "B1. A bastion host 'jump' (tunneld + bastion), nodes web-1 and db-1 with sshd on their overlay address"
bastion_net_init
bastion_nodes_add web-1 db-1
step "B2. The admin adds engineer alice, allowed on web-1 port 22 only, and publishes"
echo "   admin$ keys engineer add alice --ssh-key alice.pub --allow web-1:22"
eng_add alice web-1:22
bastion_up
keys_admin show alice 2>&1 | show || true

step "B3. alice: ssh -J alice@bastion web-1 uname -n   (her client, her key; end-to-end to web-1's sshd)"
eng_ssh alice -J alice@bastion web-1 uname -n 2>&1 | show || true
step "B4. alice: ssh -J alice@bastion db-1   (not allowed)"
eng_ssh alice -J alice@bastion db-1 true 2>&1 | show || true
step "B5. alice: ssh bastion   (the bastion only jumps)"
eng_ssh alice bastion </dev/null 2>&1 | show || true

step "B6. The audit log: one JSON line per decision, each chained to the one before"
bastion_stop || true
cut -c1-160 "$AUDIT_LOG" | show
step "B7. keys audit verify: the chain and the signed checkpoints are intact"
audit_verify "$AUDIT_LOG" | show
echo
echo "Demo done."
