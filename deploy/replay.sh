#!/bin/sh
# The replayer of docker-compose.yml's `replay` profile.
#
# Replays every recording under $PHENOTYPING_REPLAY_DIR (default /data/recordings: Actiwatch
# CSV, MMASH folders or JSONL wire messages, as `phenotyping replay` reads them) into the
# device topic. When that folder holds no recording, it replays the synthetic demo cohort
# instead (6 subjects, 12 weeks, one relapse after a ketamine response).
#
#   PHENOTYPING_KAFKA__BROKER   where to publish (required)
#   PHENOTYPING_REPLAY_SPEED    N x real time (default: as fast as the broker takes it)
set -eu
dir="${PHENOTYPING_REPLAY_DIR:-/data/recordings}"
broker="${PHENOTYPING_KAFKA__BROKER:?set PHENOTYPING_KAFKA__BROKER}"
speed="${PHENOTYPING_REPLAY_SPEED:-}"
set -- --broker "$broker" -q
if [ -n "$speed" ]; then
    set -- "$@" --speed "$speed"
fi
found=""
if [ -d "$dir" ]; then
    found="$(find "$dir" -type f \( -name '*.csv' -o -name '*.csv.gz' -o -name '*.jsonl' \
        -o -name '*.jsonl.gz' -o -name '*.ndjson' \) | head -n 1)"
fi
if [ -n "$found" ]; then
    echo "replay: recordings under $dir"
    exec phenotyping replay "$dir" "$@"
fi
work="$(mktemp -d)"
echo "replay: no recordings under $dir; replaying the synthetic demo cohort"
phenotyping demo --out "$work" --no-plots -q >/dev/null
exec phenotyping replay "$work/cohort.jsonl" --format jsonl "$@"
