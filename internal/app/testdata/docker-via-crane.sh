#!/usr/bin/env bash
# docker, as far as seed 000's job uses it (login, pull), done by crane:
# the test machine has no docker daemon. Credentials go to the same
# $DOCKER_CONFIG/config.json docker would write, where cosign finds them.
set -euo pipefail
cmd=$1; shift
case "$cmd" in
login)
  user="" host=""
  while [ $# -gt 0 ]; do
    case "$1" in
    -u|--username) user=$2; shift 2 ;;
    --password-stdin) shift ;;
    *) host=$1; shift ;;
    esac
  done
  "$CRANE" auth login "$host" -u "$user" --password-stdin 2>/dev/null
  echo "Login Succeeded" ;;
pull)
  out=$(mktemp)
  trap 'rm -f "$out"' EXIT
  "$CRANE" pull "$1" "$out"
  echo "$1: pulled" ;;
*)
  echo "docker-via-crane: $cmd is not supported" >&2; exit 1 ;;
esac
