#!/usr/bin/env bash
# test-home.sh CMD...: runs CMD with a library home of its own
# (BIGJOB_HOME: service keys and the lasting local coordination store) and a
# short store idle time, then stops that home's store, fails if anything of
# it is left running, and removes the home. Tests thus never touch
# ~/.bigjob and leave nothing behind. Needs bin/pilot-agent (make build).
set -u
home=$(mktemp -d /tmp/bigjob-test-home.XXXXXX)
export BIGJOB_HOME=$home BIGJOB_STORE_IDLE=${BIGJOB_STORE_IDLE:-5s}
"$@"
rc=$?
store=$home/store
# the agent binary stops the store and waits for its supervisor (make build)
if ! "$(dirname "$0")/../bin/pilot-agent" -store "$store" -stop; then
	echo "test-home.sh: could not stop the local coordination store in $store" >&2
	rc=1
fi
if pgrep -f -- "-store $store" >/dev/null || pgrep -f -- "unixsocket:$store/" >/dev/null; then
	echo "test-home.sh: processes of the local coordination store in $store are left running:" >&2
	pgrep -af -- "$store" >&2
	pkill -f -- "-store $store"; pkill -f -- "unixsocket:$store/"
	rc=1
fi
rm -rf "$home"
exit $rc
