#!/usr/bin/env bash
# Cryptokey routing is the whitelist.
#  1. c knows a's and b's keys and endpoints, but neither lists c: no handshake, no replies,
#     and a's/b's TUN counters show nothing delivered to their hosts.
#  2. a sends to b from an inner source outside a's AllowedIPs at b: b authenticates the packets
#     (its transfer-rx from a grows) but drops them (its TUN delivers nothing); the allowed
#     source works.
. "$(dirname "$0")/lib.sh"

node_add a 1
node_add b 2
node_add c 3
node_peer a b
node_peer b a
node_peer c a
node_peer c b
node_start a
node_start b
node_start c

check "baseline: a -> b ping works" ping_ok a "${OV4[b]}" "${OV4[a]}"

# 1. the stranger
a_rx0=$(if_stat a rx_packets); b_rx0=$(if_stat b rx_packets)
assert_eq "stranger c -> a: ping replies" 0 "$(ping_replies c "${OV4[a]}" 5)"
assert_eq "stranger c -> b: ping replies" 0 "$(ping_replies c "${OV4[b]}" 5)"
assert_eq "stranger c -> a v6: ping replies" 0 "$(ping_replies c "${OV6[a]}" 3)"
assert_eq "a's TUN delivered no packets to its host while c sent" "$a_rx0" "$(if_stat a rx_packets)"
assert_eq "b's TUN delivered no packets to its host while c sent" "$b_rx0" "$(if_stat b rx_packets)"
assert_eq "c: no handshake with a (latest-handshake)" 0 "$(peer_field c a 5)"
assert_eq "c: nothing received from a (transfer-rx)" 0 "$(peer_field c a 6)"
assert_eq "c: nothing received from b (transfer-rx)" 0 "$(peer_field c b 6)"
assert_ge "c did try: transfer-tx to a" 1 "$(peer_field c a 7)"
assert_nomatch "a's wg show does not list c's key" "${PUB[c]//+/\\+}" "$(nsx a wg show "${IFN[a]}" peers)"

# 2. spoofed inner source from a legitimate peer
spoof=100.64.0.101
ip -n "${NS[a]}" addr add "$spoof/32" dev "${IFN[a]}"
b_rx0=$(if_stat b rx_packets); b_wrx0=$(peer_field b a 6)
assert_eq "a -> b with inner source $spoof (not in a's AllowedIPs at b): replies" 0 \
	"$(ping_replies a "${OV4[b]}" 5 "$spoof")"
assert_eq "b's TUN delivered none of them" "$b_rx0" "$(if_stat b rx_packets)"
assert_ge "b did receive and authenticate them (transfer-rx from a grew by >= 3 packets, bytes)" 288 \
	$(( $(peer_field b a 6) - b_wrx0 ))
got=$(ping_replies a "${OV4[b]}" 5 "${OV4[a]}")
assert_ge "a -> b with the allowed source ${OV4[a]}: replies" 4 "$got"
assert_ge "b's TUN delivered the allowed ones" $((b_rx0 + 4)) "$(if_stat b rx_packets)"

finish
