#!/bin/bash
# gpugate on one Kubernetes node: the container's entrypoint (deploy/k8s/Dockerfile), run by
# the DaemonSet in deploy/k8s/30-daemonset.yaml.
#
# 1. When the node's last run (GPUGATE_RESULTS/latest/run.json, on a hostPath) is missing or
#    older than GPUGATE_INTERVAL_S, run `gpugate run` (or `gpugate burn`, GPUGATE_MODE) with
#    GPUGATE_ARGS into GPUGATE_RESULTS.
# 2. Record that run's verdict on the node: GET the node with the service account's token,
#    let `gpugate k8s patch` compute the JSON Patch (label gpugate.io/verdict, taint
#    gpugate.io/unhealthy:NoSchedule), PATCH it (application/json-patch+json). The patch tests
#    what it was computed from: when someone changed the node's taints in between, the API
#    server refuses it (422, or 409) and the node is read again.
# 3. Every GPUGATE_RECHECK_S, again from 1: a run is repeated once it is older than
#    GPUGATE_INTERVAL_S, and the verdict is recorded again (a taint of gpugate's that someone
#    removed while the node still fails comes back). GPUGATE_ONCE=1 stops after the first
#    pass, with the verdict's exit code (a Job per node).
#
# gpugate itself sends nothing: it has no HTTP client. This script needs bash, curl and
# coreutils. GPUGATE_K8S_API, GPUGATE_K8S_TOKEN_FILE and GPUGATE_K8S_CA_FILE override the
# in-cluster API address, token and CA (gpugate's tests point them at a local server).
set -uo pipefail

: "${NODE_NAME:?NODE_NAME must be set to the node name (downward API: spec.nodeName)}"
GPUGATE="${GPUGATE:-gpugate}"
RESULTS="${GPUGATE_RESULTS:-/var/lib/gpugate}"
MODE="${GPUGATE_MODE:-run}"
ARGS="${GPUGATE_ARGS:-}"
INTERVAL="${GPUGATE_INTERVAL_S:-604800}"
RECHECK="${GPUGATE_RECHECK_S:-300}"
ONCE="${GPUGATE_ONCE:-0}"
SA=/var/run/secrets/kubernetes.io/serviceaccount
API="${GPUGATE_K8S_API:-https://${KUBERNETES_SERVICE_HOST:-kubernetes.default.svc}:${KUBERNETES_SERVICE_PORT:-443}}"
TOKEN_FILE="${GPUGATE_K8S_TOKEN_FILE:-$SA/token}"
CA_FILE="${GPUGATE_K8S_CA_FILE:-$SA/ca.crt}"
ATTEMPTS=5
RUN_JSON="$RESULTS/latest/run.json"
# Left when a run was stopped (the pod deleted or moved): that run is incomplete, and FAILS
# its run.complete check; the next start runs again instead of taking it as recent.
INTERRUPTED="$RESULTS/.interrupted"
NODE_PATH="/api/v1/nodes/$NODE_NAME"
child=""

log() { echo "gpugate-node: $*" >&2; }

# SIGTERM (the pod stopped): a run in progress is stopped as gpugate stops on a signal (it
# writes what it measured, marked incomplete), and marked interrupted.
on_term() {
    if [ -n "$child" ]; then
        log "stopping: gpugate $MODE interrupted"
        touch "$INTERRUPTED"
        kill -TERM "$child" 2>/dev/null
        wait "$child"
    fi
    exit 143
}
trap on_term TERM INT

case "$MODE" in
run | burn) ;;
*)
    log "GPUGATE_MODE is '$MODE': it is run (the acceptance run) or burn (the burn-in)"
    exit 2
    ;;
esac
for n in INTERVAL RECHECK; do
    if ! [[ ${!n} =~ ^[0-9]+$ ]]; then
        log "GPUGATE_${n}_S is '${!n}': give a whole number of seconds"
        exit 2
    fi
done

# api METHOD PATH OUT [curl arguments]: the response body into OUT, the HTTP status on stdout
# (000 when there was no answer). The token is read each time: it is rotated.
api() {
    local method=$1 path=$2 out=$3
    shift 3
    curl --silent --show-error --max-time 30 --cacert "$CA_FILE" \
        -H "Authorization: Bearer $(cat "$TOKEN_FILE")" -H "Accept: application/json" \
        -X "$method" -o "$out" -w '%{http_code}' "$@" "$API$path"
}

# Seconds since the last run finished; empty when there is none.
run_age() {
    local m
    m=$(stat -L -c %Y "$RUN_JSON" 2>/dev/null) || return 0
    echo $(($(date +%s) - m))
}

# Runs gpugate when the last run is missing or older than INTERVAL. Returns 0 when a run is
# there to record (gpugate exits 0, 1 or 3 when it recorded one).
maybe_run() {
    local age
    age=$(run_age)
    if [ -n "$age" ] && [ "$age" -lt "$INTERVAL" ] && [ ! -e "$INTERRUPTED" ]; then
        return 0
    fi
    mkdir -p "$RESULTS"
    log "gpugate $MODE $ARGS --out $RESULTS"
    # In the background and waited for, so that a SIGTERM reaches on_term at once.
    # shellcheck disable=SC2086 # GPUGATE_ARGS is a list of arguments
    "$GPUGATE" "$MODE" $ARGS --out "$RESULTS" &
    child=$!
    wait "$child"
    local rc=$?
    child=""
    rm -f "$INTERRUPTED"
    case $rc in
    0 | 1 | 3) return 0 ;;
    *)
        log "gpugate $MODE could not run (exit $rc): the node's verdict is left as it was"
        [ -e "$RUN_JSON" ]
        ;;
    esac
}

# Records the last run's verdict on the node: read, compute, patch; again from the read when
# the API server refuses the patch because the node changed.
record_verdict() {
    local tmp status patch attempt
    tmp=$(mktemp -d) || return 2
    for attempt in $(seq 1 "$ATTEMPTS"); do
        status=$(api GET "$NODE_PATH" "$tmp/node.json")
        if [ "$status" != 200 ]; then
            log "GET $NODE_PATH: HTTP $status: $(head -c 300 "$tmp/node.json" 2>/dev/null)"
            sleep "$attempt"
            continue
        fi
        if ! patch=$("$GPUGATE" k8s patch --node-json "$tmp/node.json" --run "$RUN_JSON"); then
            rm -rf "$tmp"
            return 2
        fi
        if [ -z "$patch" ]; then
            rm -rf "$tmp"
            return 0
        fi
        status=$(printf '%s' "$patch" | api PATCH "$NODE_PATH" "$tmp/answer.json" \
            -H "Content-Type: application/json-patch+json" -H "Expect:" --data-binary @-)
        case $status in
        200)
            rm -rf "$tmp"
            return 0
            ;;
        409 | 422) log "the node changed since it was read (HTTP $status): reading it again" ;;
        *)
            log "PATCH $NODE_PATH: HTTP $status: $(head -c 300 "$tmp/answer.json" 2>/dev/null)"
            sleep "$attempt"
            ;;
        esac
    done
    rm -rf "$tmp"
    log "could not record the verdict on node $NODE_NAME after $ATTEMPTS attempts"
    return 1
}

while true; do
    if maybe_run; then
        record_verdict
        recorded=$?
        if [ "$ONCE" = 1 ]; then
            [ "$recorded" = 0 ] || exit 2
            "$GPUGATE" k8s npd --run "$RUN_JSON" --max-output-length 200 >&2
            exit $?
        fi
    elif [ "$ONCE" = 1 ]; then
        exit 2
    fi
    sleep "$RECHECK" &
    wait $!
done
