#!/usr/bin/env bash
# The man page sotongd(8): renders without a warning, and names every option `--help` does.
#   check_man.sh BUILD_DIR SOTONGD
set -euo pipefail
build="$1"
sotongd="$2"
page="$build/man/sotongd.8"
[ -s "$page" ] || { echo "no $page: build the man target"; exit 1; }
warnings=$(LC_ALL=C.UTF-8 groff -man -Tutf8 -ww -z "$page" 2>&1)
[ -z "$warnings" ] || { echo "groff warns:"; echo "$warnings"; exit 1; }
options=$("$sotongd" --help | grep -oE -- '--[a-z][a-z-]+' | sort -u)
[ -n "$options" ] || { echo "--help lists no options"; exit 1; }
missing=0
for o in $options; do
  # Described in OPTIONS, not only shown in the synopsis.
  grep -qF -- "\fB$o\fR" "$page" || { echo "the man page does not describe $o"; missing=1; }
done
[ "$missing" -eq 0 ]
for section in NAME SYNOPSIS OPTIONS SIGNALS LOGGING FILES "EXIT STATUS"; do
  grep -q "^\.SH $section" "$page" || { echo "the man page lacks $section"; exit 1; }
done
echo "man page: $(echo "$options" | wc -l) options, all documented"
