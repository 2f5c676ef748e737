#!/usr/bin/env bats
# Documentation that ships: every man page in the tree renders without
# warnings, passes mandoc's lint, has the sections an administrator looks
# for, and names every option, environment variable and exit status its
# program has; and the admin guide gives programs only options they have.

# man_pages: the pages in the tree, one per line.
man_pages() {
	local p
	for p in "$POP3_SRC"/docs/*.8 "$POP3_SRC"/admin/*.1; do
		[ -e "$p" ] && echo "$p"
	done
}

# page_of PROGRAM: its page.
page_of() {
	man_pages | grep -E "/$1\.[0-9]$"
}

# section PAGE NAME: the source lines of one .SH section.
section() {
	awk -v want="$2" '
		/^\.SH/ { name = $0; sub(/^\.SH[ \t]+/, "", name); gsub(/"/, "", name); on = (name == want); next }
		on' "$1"
}

# The page's source with \- turned into -, so "--state" can be searched for.
plain() {
	sed 's/\\-/-/g' "$1"
}

@test "the tree has a man page for each of the three programs" {
	page_of pop3-session
	page_of pop3-admind
	page_of pop3-admin
}

@test "every man page renders without groff warnings" {
	local p out bad=0
	while read -r p; do
		out=$(groff -ww -man -Tutf8 -z "$p" 2>&1) || { echo "$p: groff failed"; bad=1; }
		[ -z "$out" ] || { echo "$p: $out"; bad=1; }
	done < <(man_pages)
	[ "$bad" -eq 0 ]
}

@test "every man page passes mandoc's lint at the warning level" {
	command -v mandoc >/dev/null || { echo "mandoc is missing: scripts/deps test installs it"; false; }
	local p out bad=0
	while read -r p; do
		out=$(mandoc -T lint -W warning "$p" 2>&1) || bad=1
		[ -z "$out" ] || { echo "$out"; bad=1; }
	done < <(man_pages)
	[ "$bad" -eq 0 ]
}

@test "every man page has the sections an administrator looks for" {
	local p s bad=0
	while read -r p; do
		for s in NAME SYNOPSIS DESCRIPTION OPTIONS ENVIRONMENT FILES "EXIT STATUS" EXAMPLES "SEE ALSO"; do
			grep -qE "^\.SH \"?$s\"?\$" "$p" || { echo "$p: no $s section"; bad=1; }
		done
	done < <(man_pages)
	[ "$bad" -eq 0 ]
}

@test "every option a program's --help lists is in its man page" {
	local prog page o bad=0
	for prog in pop3-session pop3-admind pop3-admin; do
		page=$(page_of "$prog")
		for o in $("$POP3_BUILD/$prog" --help | grep -oE -- '--[a-z][a-z-]*' | sort -u); do
			plain "$page" | grep -qE -- "$o([^a-z-]|\$)" || { echo "$page: no $o"; bad=1; }
		done
	done
	[ "$bad" -eq 0 ]
}

@test "every exit status a program's --help lists is in its man page's EXIT STATUS" {
	local prog page n bad=0
	for prog in pop3-session pop3-admind pop3-admin; do
		page=$(page_of "$prog")
		for n in $("$POP3_BUILD/$prog" --help | sed -n '/^Exit status:/,$p' |
			   grep -oE '(^|[ :,])[0-9]+ [a-z(]' | grep -oE '[0-9]+'); do
			section "$page" "EXIT STATUS" | grep -qx "\.B $n" || { echo "$page: no exit status $n"; bad=1; }
		done
	done
	[ "$bad" -eq 0 ]
}

@test "every environment variable the code reads is in some man page's ENVIRONMENT" {
	local v p found bad=0
	# names passed to getenv() or env_or(), or listed in a vars[] array read with getenv()
	for v in $(grep -hE '(getenv|env_or)\("|[^a-z_]vars\[\] =' "$POP3_SRC"/src/*.c "$POP3_SRC"/admin/*.c |
		   grep -oE '"[A-Z][A-Z0-9_]+"' | tr -d '"' | sort -u); do
		found=0
		while read -r p; do
			section "$p" ENVIRONMENT | grep -qw "$v" && found=1
		done < <(man_pages)
		[ "$found" -eq 1 ] || { echo "no man page documents $v"; bad=1; }
	done
	[ "$bad" -eq 0 ]
}

@test "every option the admin guide's commands give a program is in its --help" {
	local prog line o bad=0
	while IFS= read -r line; do
		for prog in pop3-session pop3-admind pop3-admin; do
			[[ " $line " =~ [[:space:]/]$prog[[:space:]](.*) ]] || continue
			for o in $(grep -oE -- '--[a-z][a-z-]*' <<<"${BASH_REMATCH[1]}"); do
				"$POP3_BUILD/$prog" --help | grep -qE -- "$o([^a-z-]|\$)" ||
					{ echo "$prog has no $o: $line"; bad=1; }
			done
		done
	done < <(awk '/^```/ { code = !code; next } code' "$POP3_SRC/docs/admin-guide.md")
	[ "$bad" -eq 0 ]
}
