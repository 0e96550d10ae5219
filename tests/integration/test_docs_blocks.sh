#!/usr/bin/env bash
# Docs-as-tests, the rule itself: every code block of README.md and docs/*.md is fenced and names
# its language, and every shell block (sh, bash, shell, console) is either marked
# `<!-- readme-test: NAME -->` and taken by a test (doc_block/readme_block NAME in
# tests/integration), or marked `<!-- readme-test: skip (REASON) -->`, so that a command added to
# the documentation cannot go untested unnoticed.  Then the README's "keys" block, which needs
# no host, runs here as written.
# run-all: no-sanitizer
. "$(dirname "$0")/lib.sh"
. "$ROOT/tests/integration/lib_readme.sh"

need_keys
cd "$ROOT"
DOCS=(README.md docs/*.md)
TESTS=$(grep -hoE '(readme_block|doc_block [^ ]+) [a-z0-9-]+' tests/integration/*.sh tests/*.sh |
	grep -v '^doc_block "\$' | sort -u)

bad=0 n=0 marked=0 skipped=0
declare -A SEEN
while IFS=$'\t' read -r where lang mark; do
	n=$((n + 1))
	file=${where%:*}
	case $lang in
	UNCLOSED) fail "$where: code fence never closed"; bad=$((bad + 1)); continue ;;
	"") fail "$where: code block without a language (\`\`\`sh, \`\`\`ini, \`\`\`text ...)"
		bad=$((bad + 1)); continue ;;
	esac
	case $mark in
	"") case $lang in sh | bash | shell | console)
		fail "$where: $lang block not marked <!-- readme-test: NAME --> (tested) or <!-- readme-test: skip (REASON) -->"
		bad=$((bad + 1)) ;;
	esac ;;
	"skip ("?*")") skipped=$((skipped + 1)) ;;
	skip*) fail "$where: '$mark': a skip names its reason, as 'skip (REASON)'"; bad=$((bad + 1)) ;;
	*)
		if ! [[ $mark =~ ^[a-z0-9-]+$ ]]; then
			fail "$where: marker name '$mark' (lower case, digits and dashes)"; bad=$((bad + 1))
		elif [ -n "${SEEN[$file:$mark]:-}" ]; then
			fail "$where: marker '$mark' used twice in $file (first at ${SEEN[$file:$mark]})"
			bad=$((bad + 1))
		else
			SEEN[$file:$mark]=$where
			marked=$((marked + 1))
			if [ "$file" = README.md ]; then want="readme_block $mark"
			else want="doc_block $file $mark"; fi
			grep -qxF "$want" <<<"$TESTS" ||
				{ fail "$where: block '$mark' is marked tested, but no test takes it ($want)"
				  bad=$((bad + 1)); }
		fi ;;
	esac
done < <(doc_fences "${DOCS[@]}")
# Indented code blocks have neither a language nor a marker: fenced blocks only.
while IFS= read -r where; do
	fail "$where: indented code block: fence it (\`\`\`sh, \`\`\`text ...) so it can be marked"
	bad=$((bad + 1))
done < <(doc_indented "${DOCS[@]}")
# A marker with no block right after it would mark nothing.
markers=$(grep -c '^<!-- readme-test: .* -->$' "${DOCS[@]}" | awk -F: '{ s += $2 } END { print s }')
assert_eq "every readme-test marker is right before a code block" "$markers" "$((marked + skipped))"
assert_eq "fenced blocks in README.md and docs/*.md without a language, or shell blocks neither tested nor skipped with a reason (of $n; $marked tested, $skipped skipped)" 0 "$bad"

# README "keys": needs no host, runs here as written (keys is on PATH as installed).
mkdir -p "$T/bin" "$T/keys"
ln -s "$KEYS_BIN" "$T/bin/keys"
readme_block keys | strict >"$T/keys.sh"
out=$(cd "$T/keys" && PATH=$T/bin:$PATH timeout 30 sh "$T/keys.sh" 2>"$T/keys.err") && rc=0 || rc=$?
assert_eq "README keys block (exit status)" 0 "$rc"
assert_eq "it warns about nothing" "" "$(cat "$T/keys.err")"
assert_eq "it leaves wg0.key 0600" 600 "$(stat -c %a "$T/keys/wg0.key" 2>/dev/null)"
assert_eq "it prints the key's public half" "$(wg pubkey <"$T/keys/wg0.key" 2>&1)" "$out"

finish
