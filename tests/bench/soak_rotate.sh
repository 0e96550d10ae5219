#!/usr/bin/env bash
# The long rotation soak (`make soak`, issue 7 item 15): 20 tunneld nodes for 10 minutes, a
# publish every 10 s, every fourth a key rotation handed to the rotated node itself (every
# other one after restarting it, so that it holds no session).  It is
# tests/integration/test_roster_rotate_soak.sh with these settings; each can be overridden
# (SOAK_NODES, SOAK_SECONDS, SOAK_INTERVAL, SOAK_RESTART, SOAK_KEEP=DIR keeps the logs).
# Bounded: the whole run is killed after SOAK_SECONDS + 10 minutes.
set -u
DIR=$(cd "$(dirname "$0")/../integration" && pwd)
export SOAK_NODES=${SOAK_NODES:-20}
export SOAK_SECONDS=${SOAK_SECONDS:-600}
export SOAK_INTERVAL=${SOAK_INTERVAL:-10}
export SOAK_RESTART=${SOAK_RESTART:-alt}
export SOAK_CONVERGE=${SOAK_CONVERGE:-60}
export SOAK_SPREAD=${SOAK_SPREAD:-30}
exec timeout -k 30 $((SOAK_SECONDS + 600)) bash "$DIR/test_roster_rotate_soak.sh"
