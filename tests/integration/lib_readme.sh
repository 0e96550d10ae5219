# shellcheck shell=bash
# Docs-as-tests: the commands of README.md and docs/*.md, taken from their fenced code blocks,
# never retyped.  A block is tested when the line before its opening fence is
#     <!-- readme-test: NAME -->
# and a test takes it with doc_block FILE NAME; a block that cannot run on a test host says why:
#     <!-- readme-test: skip (REASON) -->
# test_docs_blocks.sh checks that every shell block carries one of the two.  Sourced after
# lib.sh (fail), never run.

# doc_block FILE NAME: the lines of the fenced block marked `readme-test: NAME` in FILE
# (relative to the source tree or absolute), backslash continuations joined.  Fails, naming
# the marker, if there is no such block or it is empty.
doc_block() {
	local f=$1 out
	case $f in /*) ;; *) f=$ROOT/$f ;; esac
	out=$(awk -v m="<!-- readme-test: $2 -->" '
		$0 == m { f = 1; next }
		f == 1 && /^```/ { f = 2; next }
		f == 1 && !/^[ \t]*$/ { exit }
		f == 2 && /^```/ { exit }
		f == 2 { if (sub(/\\$/, "")) { buf = buf $0; next } print buf $0; buf = "" }' "$f")
	[ -n "$out" ] || { fail "${f#"$ROOT"/} has no block marked readme-test: $2"; return 1; }
	printf '%s\n' "$out"
}

# readme_block NAME: doc_block README.md NAME.
readme_block() { doc_block README.md "$1"; }

# role_lines ROLE: the lines of stdin prefixed ROLE$ (prefix removed).
role_lines() { sed -n "s/^$1\\$ *//p"; }

# strict: stdin as a script that stops at the first line that fails, naming it (as an
# operator would; `sh -e` alone lets the left side of `a && b` fail unnoticed).
strict() {
	local line
	while IFS= read -r line; do
		printf '%s\n' "$line"
		printf 'rc=$?; [ $rc -eq 0 ] || { echo "FAILED (exit $rc): %s" >&2; exit $rc; }\n' \
			"$(printf '%s' "$line" | sed 's/[`"$\\]/\\&/g')"
	done
}

# doc_fences FILE...: one line per fenced block, "FILE:LINE<TAB>LANG<TAB>MARK": LANG the
# fence's info string ("" if none), MARK the readme-test marker on the line before it (the
# text after "readme-test: ", "" if none).  A fence left open is reported as LANG "UNCLOSED".
doc_fences() {
	awk '
		FNR == 1 { if (open) printf "%s\tUNCLOSED\t%s\n", start, smark; prev = ""; open = 0 }
		/^```/ {
			if (open) { open = 0; prev = $0; next }
			open = 1; lang = substr($0, 4); sub(/[ \t].*/, "", lang)
			mark = ""
			if (prev ~ /^<!-- readme-test: .* -->$/) {
				mark = prev; sub(/^<!-- readme-test: /, "", mark); sub(/ -->$/, "", mark)
			}
			start = FILENAME ":" FNR; smark = mark
			printf "%s\t%s\t%s\n", start, lang, mark
			next
		}
		!open && !/^[ \t]*$/ { prev = $0 }
		END { if (open) printf "%s\tUNCLOSED\t%s\n", start, smark }' "$@"
}

# doc_indented FILE...: "FILE:LINE" of every indented code block (4 spaces or a tab after a
# blank line, outside fences): a block with no language and no place for a marker.
doc_indented() {
	awk 'FNR == 1 { prev = ""; open = 0 }
		/^```/ { open = !open; prev = $0; next }
		!open && /^(    |\t)/ && prev ~ /^[ \t]*$/ { print FILENAME ":" FNR }
		{ prev = $0 }' "$@"
}
